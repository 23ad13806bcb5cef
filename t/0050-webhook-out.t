#!/bin/sh
# The worker's progress webhooks: start, progress as images land (throttled),
# final; each a row in webhook_deliveries; failures retried with backoff.
. "$(dirname "$0")/lib.sh"

start_receiver
SECRET=whsec_$(head -c 32 /dev/urandom | base64 -w0)
MOCK_ARGS="--latency 0.3" start_stack "retry_attempts = 1" "webhook_secret = $SECRET"
make_case case-hook 10 4 "$HOOK_URL" ev-2=500
post_json /api/generate-case-images "$T/case-hook.json"
is "$CODE" 202 "generate with a webhookUrl answers 202"
check "the job finishes" wait_final case-hook 30
delivered() {
	[ "$(db "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")" = 0 ] &&
	    [ "$(db "SELECT count(*) FROM webhook_deliveries WHERE event = 'final'")" = 1 ]
}
check "the final delivery is recorded" wait_for 10 delivered

H=$T/hook.log
n=$(wc -l < "$H")
check "the receiver got at least start, one progress and final ($n posts)" test "$n" -ge 3
is "$(jq -r '.json.status' "$H" | head -1)" generating "the first update says generating"
is "$(jq -r '.json.completedImages' "$H" | head -1)" 0 "... with nothing done yet"
is "$(jq -r '.json.status' "$H" | tail -1)" partial "the last update carries the final status"
is "$(jq -r '.json.completedImages' "$H" | tail -1)" 13 "... and all 13 completed images"
is "$(jq -c '.json.failedIds' "$H" | tail -1)" '["ev-2"]' "... and the failed id"
is "$(jq -r '.json.evidenceImages | length' "$H" | tail -1)" 9 "... with 9 evidence URLs"
is "$(jq -r '.json.locationImages | length' "$H" | tail -1)" 4 "... and 4 location URLs"
is "$(jq -r '.json | keys | join(",")' "$H" | sort -u)" \
    "caseId,completedImages,evidenceImages,failedIds,locationImages,status,totalImages" \
    "every update has exactly the ImageProgressUpdate fields"
is "$(jq -r '.json.totalImages' "$H" | sort -u)" 14 "totalImages is 14 in every update"
check "completedImages never goes down" sh -c "jq -r '.json.completedImages' '$H' | sort -n -c"
mid=$(jq -r 'select(.json.status == "generating" and .json.completedImages > 0) | .json.completedImages' "$H" | wc -l)
check "progress updates arrive while images land ($mid)" test "$mid" -ge 1
check "progress is throttled: fewer posts than images" test "$n" -lt 16
is "$(jq -r '.headers["content-type"]' "$H" | sort -u)" application/json "posted as JSON"
# Standard Webhooks 1.0: v1 = base64 HMAC-SHA256 of "id.timestamp.body" under the secret.
verified=$("$PYTHON3" - "$SECRET" "$H" <<'PY'
import base64, hashlib, hmac, json, sys
key = base64.b64decode(sys.argv[1][len("whsec_"):])
good = 0
for line in open(sys.argv[2]):
    r = json.loads(line)
    h = r["headers"]
    msg = "%s.%s.%s" % (h["webhook-id"], h["webhook-timestamp"], r["raw"])
    want = base64.b64encode(hmac.new(key, msg.encode(), hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in h["webhook-signature"].split() if s.startswith("v1,")]
    if want in sigs and abs(int(h["webhook-timestamp"]) - r["t"]) < 300:
        good += 1
print(good)
PY
)
is "$verified" "$n" "every post is signed: webhook-id, webhook-timestamp, webhook-signature verify"
check "the secret appears in no log" sh -c "! grep -q '${SECRET#whsec_}' '$T/imagegen.log'"
is "$(db "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")" \
    "$n" "one delivered row per post received"
is "$(db "SELECT event FROM webhook_deliveries ORDER BY id LIMIT 1")" start \
    "the first row is the start event"

# A receiver that fails its first two posts: the start event is retried
# with backoff and lands on the third attempt, the images being slow enough
# that no newer update supersedes it meanwhile; the job is unaffected.
kill "$HOOK_PID"
rm -f "$T/hook.port" "$T/hook.log"
start_receiver --fail-first 2 --status 503
make_case case-retry 1 1 "$HOOK_URL" ev-0=delay=8 loc-0=delay=8
post_json /api/generate-case-images "$T/case-retry.json"
check "the second job finishes" wait_final case-retry 30
final_done() {
	[ "$(db "SELECT status FROM webhook_deliveries WHERE case_id = 'case-retry' AND event = 'final'")" = delivered ]
}
check "the final update is delivered despite the failures" wait_for 20 final_done
is "$(job_status case-retry)" completed "failed deliveries do not change the outcome"
is "$(db "SELECT attempts || ' ' || status || ' ' || response_code FROM webhook_deliveries WHERE case_id = 'case-retry' ORDER BY id LIMIT 1")" \
    "3 delivered 200" "the start event took 3 attempts and is recorded so"
t=$(jq -r '.t' "$T/hook.log" | head -3 | tr '\n' ' ')
gap=$(echo "$t" | awk '{printf "%d", ($3 - $2) * 1000}')
check "backoff doubles: the third attempt came ${gap} ms after the second" test "$gap" -ge 1800

done_testing
