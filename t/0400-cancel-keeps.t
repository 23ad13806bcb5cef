#!/bin/sh
# Cancel keeps what is made, whoever made it: images that a progress
# update (POST /api/webhook/image-progress) completed while the local
# worker was still asking for them stay completed when the job is
# cancelled; completedImages never goes down, and the job ends partial.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 60" start_stack
q() { sqlite3 "$T/imagegen.db" "$1"; }
make_case case-keep 3 1
post_json /api/generate-case-images "$T/case-keep.json"
out() { [ "$(q "SELECT count(*) FROM images WHERE case_id = 'case-keep' AND status = 'generating'")" -ge 2 ]; }
check "the worker's requests are out" wait_for 20 out
printf '%s' '{"caseId":"case-keep","status":"generating","completedImages":2,"totalImages":4,
  "evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg","ev-1":"https://cdn.example/ev-1.jpg"},
  "locationImages":{},"failedIds":[]}' > "$T/hook.json"
post_json /api/webhook/image-progress "$T/hook.json"
is "$CODE" 200 "a progress update completes ev-0 and ev-1"
http GET /api/case-images/case-keep
is "$(json .completedImages)" 2 "completedImages is 2"
http POST /api/case-images/case-keep/cancel
is "$CODE" 202 "cancel answers 202"
check "the job ends" wait_final case-keep 20
http GET /api/case-images/case-keep
is "$(json .status)" partial "it ends partial, not failed"
is "$(json .completedImages)/$(json .failedImages)" 2/2 "completedImages stays 2; the other two failed"
is "$(json '[.images[] | select(.status == "completed") | .id] | join(" ")')" "ev-0 ev-1" \
    "the images the update completed stay completed"
is "$(json '.evidenceImages["ev-1"]')" https://cdn.example/ev-1.jpg "... with the URL it reported"
is "$(json .lastError)" "cancelled by request" "lastError says why"
check "counters match the rows" counters_match case-keep

done_testing
