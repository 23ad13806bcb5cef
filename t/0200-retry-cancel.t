#!/bin/sh
# The reference's retry button and a cancel: POST .../retry re-runs only a
# finished job's failed images; POST .../cancel stops a running job at once,
# aborting its requests in flight and keeping the images already made.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 0.1" start_stack "retry_attempts = 1"
make_case case-rt 3 2 "" ev-1=500x1 loc-0=400x1
post_json /api/generate-case-images "$T/case-rt.json"
check "the job finishes" wait_final case-rt 20
is "$(job_status case-rt)" partial "two images failed: partial"
before=$(wc -l < "$T/mock.log")

http POST /api/case-images/case-rt/retry
is "$CODE" 202 "retry answers 202"
# The answer is read before the worker starts (src/retry.c), so it is
# pending however soon the worker claims the job.
is "$(json .retryImages)/$(json .retryCount)/$(json .status)" 2/1/pending \
    "... for the 2 failed images, retryCount 1, the job pending again"
check "the retried job finishes" wait_final case-rt 20
http GET /api/case-images/case-rt
is "$(json .status)/$(json .completedImages)/$(json .failedImages)" completed/5/0 \
    "now completed, 5 of 5"
is "$(json .retryCount)" 1 "the status shows retryCount 1"
is "$(json .lastError)" null "lastError is cleared"
is "$(( $(wc -l < "$T/mock.log") - before ))" 2 "only the 2 failed images were requested again"
http POST /api/case-images/case-rt/retry
is "$CODE" 409 "retry with nothing failed is 409"
http POST /api/case-images/nosuch/retry
is "$CODE/$(json .error)" "404/Job not found" "retry of an unknown case is 404"
http GET /api/case-images/case-rt/retry
is "$CODE" 405 "retry wants POST"

# Cancel: two images land, three hang; the cancel must not wait for them.
make_case case-cx 4 1 "" ev-2=delay=30 ev-3=delay=30 loc-0=delay=30
post_json /api/generate-case-images "$T/case-cx.json"
two_done() { [ "$(db "SELECT completed_images FROM jobs WHERE case_id = 'case-cx'")" = 2 ]; }
check "two images are done while three hang" wait_for 10 two_done
http POST /api/case-images/case-cx/retry
is "$CODE" 409 "retry while the job runs is 409"
http POST /api/case-images/case-cx/cancel
is "$CODE" 202 "cancel answers 202"
is "$(json .cancelRequested)/$(json .retryCount)/$(json .caseId)" true/0/case-cx \
    "... with cancelRequested, the job's retryCount and caseId"
check "the cancelled job ends long before its hanging requests would" wait_final case-cx 25
# Timed by the store, on the server's clock: from the cancel the responder
# stamped to the end the worker stamped. The test's own clock would count
# its polling and a loaded machine's curl and sqlite3 start-ups too.
ms=$(db "SELECT completed_at - cancel_requested_at FROM jobs
    WHERE case_id = 'case-cx'")
check "... within 3 s of the cancel, not at the hanging requests' 30 s ($ms ms)" test -n "$ms" -a "${ms:-x}" -ge 0 -a "${ms:-x}" -lt 3000
http GET /api/case-images/case-cx
is "$(json .status)/$(json .completedImages)/$(json .failedImages)" partial/2/3 \
    "partial: the 2 images done are kept, 3 failed"
is "$(json .lastError)" "cancelled by request" "lastError says it was cancelled"
is "$(json '[.images[] | select(.error == "cancelled")] | length')" 3 "each unfinished image says cancelled"
is "$(ls "$T/media/case-cx" | wc -l)" 2 "the 2 files stay"
aborted() { [ "$(jq -s '[.[] | select(.client_gone == true)] | length' "$T/mock.log")" -ge 3 ]; }
check "the 3 requests in flight were aborted (the mock saw them hang up)" wait_for 30 aborted
http POST /api/case-images/case-cx/cancel
is "$CODE" 409 "cancelling a finished job is 409"
http POST /api/case-images/nosuch/cancel
is "$CODE" 404 "cancelling an unknown case is 404"

done_testing
