#!/bin/sh
# Durable webhooks: what a worker could not deliver before it ended stays
# pending in webhook_deliveries, and `imagegen reap` goes on trying. Every
# attempt of a delivery carries the same webhook-id, so the receiver gets
# the final update once per id however many attempts it took.
. "$(dirname "$0")/lib.sh"

start_receiver --fail-final 4 --status 503
start_stack "reap_interval = 86400" "webhook_retries = 5"
make_case case-durable 1 1 "$HOOK_URL"
post_json /api/generate-case-images "$T/case-durable.json"
check "the job finishes" wait_final case-durable 20
worker_gone() { ! kill -0 "$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-durable'")" 2>/dev/null; }
check "the worker ends without waiting out the long backoff" wait_for 15 worker_gone
rows=$(db "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
check "it left $rows deliveries pending for the reaper" test "$rows" -ge 1
is "$(db "SELECT event FROM webhook_deliveries WHERE status = 'pending'")" \
    final "the final update is the one, not lost: it superseded what was older"

# The reaper sends them once their backoff is over.
reaped() {
	"$IMAGEGEN" reap >/dev/null
	[ "$(db "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")" = 0 ]
}
check "imagegen reap delivers everything left" wait_for 40 reaped
is "$(db "SELECT status FROM webhook_deliveries WHERE event = 'final'")" delivered \
    "the final update is delivered"

H=$T/hook.log
is "$(jq -r 'select(.status == 200) | .headers["webhook-id"]' "$H" | sort | uniq -d | wc -l)" 0 \
    "the receiver accepted each webhook-id once"
is "$(jq -r 'select(.status == 200 and .json.status == "completed") | .headers["webhook-id"]' "$H" | wc -l)" 1 \
    "it got the final update exactly once"
ids=$(jq -r '.headers["webhook-id"]' "$H" | sort -u | wc -l)
posts=$(wc -l < "$H")
check "attempts of one delivery repeat its id ($posts posts, $ids ids)" test "$posts" -gt "$ids"
final=$(db "SELECT webhook_id FROM webhook_deliveries WHERE event = 'final'")
is "$(jq -r --arg id "$final" 'select(.headers["webhook-id"] == $id) | .status' "$H" | tr '\n' ' ')" \
    "503 503 503 503 200 " "the final: refused four times, then accepted, one id throughout"
is "$(db "SELECT attempts FROM webhook_deliveries WHERE event = 'final'")" 5 \
    "its row counts the 5 attempts, the worker's four and the reaper's"
is "$(jq -r 'select(.status == 200) | .json.status' "$H" | tail -1)" completed \
    "nothing arrived after the final"

done_testing
