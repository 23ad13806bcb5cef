#!/bin/sh
# The state host is down for a while mid-run (its responder SIGKILLed; nginx
# answers 502 for the progress route). The worker hosts finish their images
# and keep their updates in their outbox, retrying; when the state host
# returns the updates arrive (from the workers still draining, then from
# `imagegen reap`, which imagegen-reap.timer runs on each worker host), and
# nothing is lost or made twice.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

DOWN=${STATE_DOWN:-30}
start_mock --latency 1
plan_hosts w1 w2
start_nginx
# stale_after well below the outage: the returning reaper must not take
# for silence what waits in the worker hosts' outboxes.
start_state_host "reap_interval = 1" "stale_after = 10"
for h in w1 w2; do start_worker_host "$h" "heartbeat_interval = 1"; done

N=4
i=0
while [ $i -lt $N ]; do
	make_case "case-$i" 10 4
	post_json /api/generate-case-images "$T/case-$i.json"
	i=$((i + 1))
done
busy() { for h in w1 w2; do [ "$(hq $h "SELECT count(*) FROM jobs WHERE status = 'generating'")" -gt 0 ] || return 1; done
    [ "$(q "SELECT count(*) FROM images WHERE status = 'completed'")" -gt 0 ]; }
check "both worker hosts are at work, and images are arriving" wait_for 60 busy
kill -9 "$IMAGEGEN_PID"
wait_for 10 exited "$IMAGEGEN_PID"
down_at=$(date +%s)
before=$(q "SELECT count(*) FROM images WHERE status = 'completed'")
diag "state host down with $before of $((N * 14)) images stored"

finished() { [ "$(hq w1 "SELECT count(*) FROM jobs WHERE status IN ('pending', 'generating')")$(hq w2 "SELECT count(*) FROM jobs WHERE status IN ('pending', 'generating')")" = 00 ]; }
check "the worker hosts finish their images while the state host is down" wait_for 60 finished
waiting=$(($(hq w1 "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'") + \
    $(hq w2 "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")))
check "their updates wait in their outboxes ($waiting)" test "$waiting" -gt 0
is "$(hq w1 "SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'")$(hq w2 "SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'")" 00 \
    "none is given up"
# The outage itself: the state host stays down for DOWN seconds.
left=$((down_at + DOWN - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
rm -f "$T/imagegen.sock"
start_imagegen
up_at=$(date +%s)
diag "state host back after $((up_at - down_at)) s"
delivered() {
	for h in w1 w2; do IMAGEGEN_CONFIG=$T/$h/imagegen.conf "$IMAGEGEN" reap >/dev/null 2>&1; done
	[ "$(q "SELECT count(*) FROM jobs WHERE status = 'completed'")" = $N ]
}
check "the updates arrive when it returns: all $N cases complete" wait_for 60 delivered
diag "all delivered $(($(date +%s) - up_at)) s after the state host returned"
is "$(q "SELECT count(*) FROM images WHERE status = 'completed'")" $((N * 14)) "no image lost"
# A responder killed mid-write leaves its temporary file (.NAME.PID.tmp), never a picture.
is "$(find "$T/media" -type f -name '*.jpg' ! -name '.*' | wc -l)" $((N * 14)) "each stored once"
is "$(jq -r '.prompt // empty' "$T/mock.log" | sort -u | wc -l)$(jq -r '.prompt // empty' "$T/mock.log" | wc -l)" \
    "$((N * 14))$((N * 14))" "each made once"
is "$(q "SELECT count(*) FROM dispatches WHERE generation > 1")" 0 "none dispatched again"
grep -q "the state host was down; [0-9]* dispatches get stale_after afresh" "$T/imagegen.log"
ok $? "the returning reaper gave the dispatches stale_after afresh"
done_testing
