#!/bin/sh
# A worker host's one route, POST /api/worker/jobs, through the shipped
# worker server block. A dispatch must be signed with dispatch_secret:
# unsigned, tampered, stale, wrongly keyed and replayed ones are refused
# with nothing recorded. A signed one is recorded and run by the detached
# worker; its updates to the callback carry the dispatch id and the host's
# name, each image's bytes go once, as a data: URL, and the worker host's
# copy is deleted once the callback acknowledged it.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

start_mock
start_receiver
plan_hosts w1
start_nginx
start_worker_host w1
W=http://127.0.0.1:$PORT_w1
H=$T/hook.log

# dispatch FILE [WEBHOOK-ID [TIMESTAMP [SECRET]]]: FILE to the worker host, signed.
dispatch() {
	f=$1 wid=${2:-wid-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')} ts=${3:-$(date +%s)}
	sig=$(sign_body "${4:-$DISPATCH_SECRET}" "$wid" "$ts" "$f")
	CODE=$(curl -s -m 30 -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
	    -H "webhook-id: $wid" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig" \
	    --data-binary "@$f" "$W/api/worker/jobs")
}
make_case c1 2 1 "$HOOK_URL"
jq -c '. + {dispatchId: "c1.d1"}' "$T/c1.json" > "$T/d1.json"
nothing() { [ "$(hq w1 "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM webhook_seen)
    + (SELECT count(*) FROM dispatch_jobs)")" = 0 ]; }

CODE=$(curl -s -m 30 -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$T/d1.json" "$W/api/worker/jobs")
is "$CODE" 401 "an unsigned dispatch is refused"
head -c 300000 /dev/zero > "$T/big.json"
for te in identity chunked; do
	CODE=$(curl -s -m 30 -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
	    -H "Transfer-Encoding: ${te#identity}" --data-binary "@$T/big.json" "$W/api/worker/jobs")
	is "$CODE/$(json .error)" "413/the body is too large" "a dispatch over 256 KiB ($te): JSON 413"
done
sed 's/Evidence 0/Evidence X/' "$T/d1.json" > "$T/tampered.json"
sig=$(sign_body "$DISPATCH_SECRET" wid-t2 "$(date +%s)" "$T/d1.json")
CODE=$(curl -s -m 30 -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "webhook-id: wid-t2" \
    -H "webhook-timestamp: $(date +%s)" -H "webhook-signature: v1,$sig" \
    --data-binary "@$T/tampered.json" "$W/api/worker/jobs")
is "$CODE" 401 "a tampered dispatch is refused"
dispatch "$T/d1.json" wid-t3 $(($(date +%s) - 600))
is "$CODE" 401 "a stale dispatch (10 minutes old) is refused"
dispatch "$T/d1.json" wid-t4 "$(date +%s)" "$HOOK_SECRET"
is "$CODE" 401 "a dispatch signed with another secret is refused"
check "refused dispatches recorded nothing" nothing

ts=$(date +%s)
dispatch "$T/d1.json" wid-ok "$ts"
is "$CODE" 202 "a signed dispatch is taken: 202"
is "$(json .dispatchId)" c1.d1 "the answer names the dispatch"
is "$(json .workerHost)" w1 "... and the worker host that took it"
dispatch "$T/d1.json" wid-ok "$ts"
is "$CODE" 401 "the same dispatch replayed is refused"
is "$(hq w1 "SELECT count(*) FROM jobs")" 1 "one job recorded, not two"
is "$(hq w1 "SELECT dispatch_id FROM dispatch_jobs WHERE case_id = 'c1'")" c1.d1 \
    "the job runs under the dispatch id"

final() { jq -e 'select(.status == 200 and .json.status == "completed")' "$H" >/dev/null 2>&1; }
check "the worker reports the job completed to the callback" wait_for 60 final
is "$(jq -r '.json.dispatchId' "$H" | sort -u)" c1.d1 "every update carries the dispatch id"
is "$(jq -r '.json.workerHost' "$H" | sort -u)" w1 "... and the worker host's name"
is "$(jq -r 'select(.status == 200) | .json.evidenceImages + .json.locationImages | to_entries[] |
    select(.value | startswith("data:image/jpeg;base64,")) | .key' "$H" | sort | uniq -c |
    awk '{print $1}' | sort -u)" 1 "each image's bytes went once, as a data: URL"
is "$(jq -r 'select(.status == 200) | .json.evidenceImages + .json.locationImages | keys[]' "$H" |
    sort -u | tr '\n' ' ')" "ev-0 ev-1 loc-0 " "... and every image went"
is "$(jq -r '.json.evidenceImages + .json.locationImages | to_entries[] |
    select(.value | startswith("data:") | not) | .key' "$H" | wc -l)" 0 \
    "no update carries a worker host's own URL"
gone() { [ "$(find "$T/w1/media" -type f | wc -l)" = 0 ]; }
check "the worker host's copies are deleted once acknowledged" wait_for 20 gone
is "$(hq w1 "SELECT count(*) FROM dispatch_handed WHERE case_id = 'c1'")" 3 \
    "and recorded as handed over"
first=$(jq -r 'select(.status == 200) | .json.evidenceImages["ev-0"] // empty' "$H" | head -1)
printf '%s' "${first#data:image/jpeg;base64,}" | base64 -d > "$T/ev0.jpg"
is "$(identify -format '%m %wx%h' "$T/ev0.jpg" 2>/dev/null)" "JPEG 512x512" \
    "the image sent is a 512x512 JPEG"

CODE=$(curl -s -m 30 -o /dev/null -w '%{http_code}' "$W/api/case-images/c1")
is "$CODE" 404 "the worker server block serves no status route"
CODE=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X POST "$W/api/generate-case-images")
is "$CODE" 404 "... and no generate route"
done_testing
