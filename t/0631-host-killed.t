#!/bin/sh
# A host killed mid-run, its responder and all its workers (SIGKILL): once
# its workers' leases run out (stale_after), the other hosts' reapers take
# its jobs, and every case completes; no picture is lost, none stored
# twice, and only the calls in flight at the kill are paid twice.
. "$(dirname "$0")/lib.sh"
pg_test
. "$top_srcdir/t/hosts.sh"

start_mock --latency-min 0.4 --latency-max 0.8 --size 600
start_hosts 3 1 "concurrency = 3" "stale_after = 5" "heartbeat_interval = 1" \
    "reap_interval = 1"
stats() { curl -s -m 5 "$MOCK_URL/_stats" | jq -r ".$1"; }
submit_cases 12 10 4
# Mid-case: one job with pictures made and more to make is enough (under
# ASan h2 never held two such at one look, CI).
busy() { [ "$(db "SELECT count(*) FROM jobs WHERE host_id = 'h2' AND status = 'generating'
    AND completed_images > 0 AND completed_images < total_images - 4")" -ge 1 ]; }
check "host h2 is at work on its jobs" wait_for 60 busy
taken=$(db "SELECT count(*) FROM jobs WHERE host_id = 'h2' AND status = 'generating'")
inflight=$(stats inflight)
kill_host 2
killed=$(date +%s%N)
all_final() { [ "$(db "SELECT count(*) FROM jobs WHERE status = 'completed'")" = 12 ]; }
check "the 12 cases complete, $taken of them h2's when it died" wait_for 120 all_final
first=$(grep -h "the lease of h2's worker ran out" "$T"/h[13]/imagegen.log | head -1 | cut -c1-23)
if [ -n "$first" ]; then
	took=$(( ($(date -d "$first" +%s%N) - killed) / 1000000 ))
	diag "the first of h2's jobs was taken back $took ms after the kill (stale_after 5 s)"
	check "... within stale_after, a sweep and the grace ($took ms < 12000)" test "$took" -lt 12000
else
	ok 1 "... no host took h2's jobs"
fi
is "$(db "SELECT count(*) FROM jobs WHERE host_id = 'h2' AND completed_at > $((killed / 1000000))")" 0 \
    "h2 finished none after its death: the other hosts did"
is "$(db "SELECT sum(completed_images) FROM jobs")" 168 "all 168 images are made"
is "$(db "SELECT count(*), count(DISTINCT case_id || '/' || item_id) FROM media")" "168|168" \
    "each picture is in the database once"
twice=$(jq -r 'select(.prompt != null) | .prompt' "$T/mock.log" | sort | uniq -d | wc -l | tr -d ' ')
diag "$twice images asked twice; $inflight requests were in flight at the kill"
check "only calls in flight at the kill were paid twice ($twice <= $inflight)" test "$twice" -le "$inflight"
is "$(bad_pictures)" 0 "every picture is a whole 512x512 JPEG, through the balancer"

done_testing
