#!/bin/sh
# The two clocks: libcurl's per-request timeout fails a hung image, and the
# job deadline fails whatever is unfinished, so a job never hangs.
. "$(dirname "$0")/lib.sh"

# Times are the store's (job_ms), bounds halfway between what is right
# (the 8 s timeout) and what a broken clock would give (the 40 s deadline):
# a loaded machine's delays fit in the margin.
start_stack "request_timeout = 8" "job_deadline = 40" "retry_attempts = 1"
make_case case-hang 3 1 "" ev-1=hang=30
post_json /api/generate-case-images "$T/case-hang.json"
check "the job with a hung request finishes" wait_final case-hang 60
el=$(job_ms case-hang)
check "... after the 8 s timeout, long before the 40 s deadline ($el ms)" \
    test -n "$el" -a "${el:-0}" -ge 7900 -a "${el:-x}" -lt 24000
http GET /api/case-images/case-hang
is "$(json .status)" partial "the job is partial"
is "$(jsonc .failedIds)" '["ev-1"]' "the hung image failed"
is "$(json '.images[] | select(.id == "ev-1") | .error')" "request timed out" "... with 'request timed out'"
is "$(json .completedImages)" 3 "the others completed"

# A deadline shorter than the API's latency: unfinished images fail with
# "deadline exceeded", requests in flight are aborted, the job ends.
sed -i 's/^job_deadline = .*/job_deadline = 12/; s/^request_timeout = .*/request_timeout = 60/' "$T/imagegen.conf"
make_case case-late 6 2 "" ev-0=delay=0 ev-1=delay=0 ev-2=delay=30 ev-3=delay=30 ev-4=delay=30 \
    ev-5=delay=30 loc-0=delay=30 loc-1=delay=30
post_json /api/generate-case-images "$T/case-late.json"
check "the job past its deadline finishes" wait_final case-late 40
el=$(job_ms case-late)
check "... at the 12 s deadline, long before the 30 s requests would end ($el ms)" \
    test -n "$el" -a "${el:-0}" -ge 11900 -a "${el:-x}" -lt 21000
http GET /api/case-images/case-late
is "$(json .status)" partial "the job is partial"
is "$(json .completedImages)" 2 "the two fast images completed"
is "$(json '[.images[] | select(.error == "deadline exceeded")] | length')" 6 \
    "the six others failed with 'deadline exceeded'"
is "$(json '[.images[] | select(.id == "loc-1") | .attempts] | .[0]')" 0 \
    "an image never started has no attempt"
check "lastError says so" sh -c "jq -r .lastError '$T/body' | grep -q 'deadline exceeded'"
check "the aborted requests were closed by the worker" \
    wait_for 30 sh -c "[ \$(jq -s '[.[] | select(.client_gone == true)] | length' '$T/mock.log') -ge 4 ]"

done_testing
