#!/bin/sh
# Verified inbound webhooks: with webhook_verify_secrets set, a progress
# update must carry a valid Standard Webhooks signature over its raw body,
# a timestamp within 5 minutes and a webhook-id not seen before; anything
# else is 401 and writes nothing. Two secrets: rotation.
. "$(dirname "$0")/lib.sh"

OLD=whsec_$(head -c 32 /dev/urandom | base64 -w0)
NEW=whsec_$(head -c 32 /dev/urandom | base64 -w0)
MOCK_ARGS="--latency 60" start_stack "webhook_verify_secrets = $NEW $OLD" \
    "image_url_allow = https://cdn.example/"
make_case case-sig 1 1
post_json /api/generate-case-images "$T/case-sig.json"
wait_for 10 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT status FROM jobs WHERE case_id = 'case-sig'\")\" = generating ]"
kill_worker case-sig

BODY='{"caseId":"case-sig","status":"generating","completedImages":1,"totalImages":2,"evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg"},"locationImages":{},"failedIds":[]}'
printf '%s' "$BODY" > "$T/hook.json"
sign() {	# sign SECRET ID TIMESTAMP: the v1 signature of $T/hook.json
	"$PYTHON3" - "$1" "$2" "$3" "$T/hook.json" <<-'PY'
	import base64, hashlib, hmac, sys
	key = base64.b64decode(sys.argv[1][len("whsec_"):])
	msg = ("%s.%s." % (sys.argv[2], sys.argv[3])).encode() + open(sys.argv[4], "rb").read()
	print(base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode())
	PY
}
send() {	# send ID TIMESTAMP SIGNATURE-HEADER
	post_json /api/webhook/image-progress "$T/hook.json" -H "webhook-id: $1" \
	    -H "webhook-timestamp: $2" -H "webhook-signature: $3"
}
completed() { db "SELECT completed_images FROM jobs WHERE case_id = 'case-sig'"; }
now=$(date +%s)

post_json /api/webhook/image-progress "$T/hook.json"
is "$CODE" 401 "an unsigned update is 401"
send msg-1 "$now" "v1,$(sign "$NEW" msg-1 $((now + 1)))"
is "$CODE" 401 "a signature over another timestamp is 401"
send msg-1 "$now" "v1,$(sign "$(echo "$NEW" | tr 'A-Ma-m' 'N-Zn-z')" msg-1 "$now")"
is "$CODE" 401 "a signature by another key is 401"
old=$((now - 360))
send msg-1 "$old" "v1,$(sign "$NEW" msg-1 "$old")"
is "$CODE" 401 "a timestamp 6 minutes old is 401, however well signed"
is "$(json .error)" "webhook-timestamp is missing, malformed or more than 5 minutes off" "... saying why"
is "$(completed)" 0 "none of them wrote anything"

send msg-1 "$now" "v1,$(sign "$NEW" msg-1 "$now")"
is "$CODE" 200 "a valid signature with the new secret is accepted"
is "$(completed)" 1 "... and applied"
send msg-1 "$now" "v1,$(sign "$NEW" msg-1 "$now")"
is "$CODE" 401 "the same webhook-id again is a replay: 401"
is "$(json .error)" "this webhook-id was accepted already" "... saying so"

BODY='{"caseId":"case-sig","status":"completed","completedImages":2,"totalImages":2,"evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg"},"locationImages":{"loc-0":"https://cdn.example/loc-0.jpg"},"failedIds":[]}'
printf '%s' "$BODY" > "$T/hook.json"
send msg-2 "$now" "v1,bm90IGl0 v1,$(sign "$OLD" msg-2 "$now")"
is "$CODE" 200 "a list holding one valid signature by the old secret is accepted (rotation)"
is "$(job_status case-sig)/$(completed)" completed/2 "... and applied"
sig=$(sign "$NEW" msg-3 "$now")
printf '%s ' "$BODY" > "$T/hook.json"
send msg-3 "$now" "v1,$sig"
is "$CODE" 401 "a body changed by one byte after signing is 401"
check "the secrets appear in no log" sh -c "! grep -q -e '${NEW#whsec_}' -e '${OLD#whsec_}' '$T/imagegen.log'"

done_testing
