#!/bin/sh
# A delivery's host killed mid-delivery: the worker was sending the
# case's final update, and the receiver had not answered, when its host
# died (SIGKILL). The row's lease runs out, and another host's reaper
# sends it: the receiver gets it again, under the same webhook-id, and
# nothing of the case after it.
. "$(dirname "$0")/lib.sh"
pg_test
. "$top_srcdir/t/hosts.sh"

start_receiver --hold-final
start_mock --size 600
start_hosts 2 1 "webhook_timeout = 5" "reap_interval = 1" "stale_after = 5" \
    "heartbeat_interval = 1"
make_case case-d 2 1 "$HOOK_URL"
post_json /api/generate-case-images "$T/case-d.json"
held() { [ "$(jq -r 'select(.json.status == "completed") | .status' "$T/hook.log" | head -1)" = 0 ]; }
check "the receiver holds the final update, unanswered" wait_for 60 held
host=$(db "SELECT host_id FROM jobs WHERE case_id = 'case-d'")
wid=$(jq -r 'select(.json.status == "completed") | .headers["webhook-id"]' "$T/hook.log" | head -1)
kill_host "${host#h}"
killed=$(date +%s)
again() { [ "$(jq -r 'select(.json.status == "completed") | .status' "$T/hook.log" | wc -l)" -ge 2 ]; }
check "the final is sent again, by the other host, once the lease runs out" wait_for 60 again
diag "$(( $(date +%s) - killed )) s after the kill (a lease: webhook_timeout + 10 s)"
is "$(jq -r 'select(.json.status == "completed") | .headers["webhook-id"]' "$T/hook.log" | sort -u)" \
    "$wid" "... under the same webhook-id"
is "$(jq -r 'select(.json.status == "completed") | .status' "$T/hook.log" | tail -1)" 200 \
    "... and answered 200"
is "$(tail -1 "$T/hook.log" | jq -r .json.status)" completed "nothing of the case came after it"
other=h1; [ "$host" = h1 ] && other=h2
check "the other host's log says it delivered it" \
    grep -q "case case-d: webhook final delivered" "$T/$other/imagegen.log"
delivered() { [ "$(db "SELECT status FROM webhook_deliveries WHERE case_id = 'case-d'
    AND event = 'final'")" = delivered ]; }
check "the row is delivered" wait_for 10 delivered

done_testing
