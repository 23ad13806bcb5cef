#!/bin/sh
# Cancel keeps what is made, whoever made it: images that a signed progress
# update (POST /api/webhook/image-progress) completed for a job whose
# worker had died stay completed when the job is cancelled; completedImages
# never goes down, and the job ends partial. (An update for a job whose own
# worker is alive is refused with 409: t/0350.)
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 60" start_stack "webhook_verify_secrets = $HOOK_SECRET" \
    "image_url_allow = https://cdn.example/"
q() { db "$1"; }
make_case case-keep 3 1
post_json /api/generate-case-images "$T/case-keep.json"
out() { [ "$(q "SELECT count(*) FROM images WHERE case_id = 'case-keep' AND status = 'generating'")" -ge 2 ]; }
check "the worker's requests are out" wait_for 20 out
kill_worker case-keep
printf '%s' '{"caseId":"case-keep","status":"generating","completedImages":2,"totalImages":4,
  "evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg","ev-1":"https://cdn.example/ev-1.jpg"},
  "locationImages":{},"failedIds":[]}' > "$T/hook.json"
post_progress "$T/hook.json"
is "$CODE" 200 "a signed progress update completes ev-0 and ev-1"
http GET /api/case-images/case-keep
is "$(json .completedImages)" 2 "completedImages is 2"
http POST /api/case-images/case-keep/cancel
is "$CODE" 202 "cancel answers 202"
# The job's worker is gone: the reaper's new worker sees the cancel and ends it.
reaped_final() { "$IMAGEGEN" reap >/dev/null 2>&1; is_final case-keep || { sleep 0.2; return 1; }; }
check "the job ends" wait_for 30 reaped_final
http GET /api/case-images/case-keep
is "$(json .status)" partial "it ends partial, not failed"
is "$(json .completedImages)/$(json .failedImages)" 2/2 "completedImages stays 2; the other two failed"
is "$(json '[.images[] | select(.status == "completed") | .id] | join(" ")')" "ev-0 ev-1" \
    "the images the update completed stay completed"
is "$(json '.evidenceImages["ev-1"]')" https://cdn.example/ev-1.jpg "... with the URL it reported"
is "$(json .lastError)" "cancelled by request" "lastError says why"
check "counters match the rows" counters_match case-keep

done_testing
