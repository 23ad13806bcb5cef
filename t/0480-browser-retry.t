#!/bin/sh
# Under status_auth = token, in chromium: the case page asks for the token
# once per tab; a case whose 4 images failed (HTTP 500) ends partial with
# 4 error tiles naming the error; Retry asks for the token when the tab has
# none, sends the retry, and the page goes back to generating and on to
# 14 / 14. The jobs page lists this test's jobs, filters and pages.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/browser.sh"

# A 500 on each faulty image's first request only: the first run fails
# them, the retry makes them. The mock takes 2.5 s an image, so that the
# retried run is generating for two polls or more.
MOCK_ARGS="--latency 2.5" start_stack "retry_attempts = 1" "status_auth = token"
make_case case-fail 10 4 "" ev-1=500x1 ev-6=500x1 loc-0=500x1 loc-3=500x1
post_json /api/generate-case-images "$T/case-fail.json"
is "$CODE" 202 "the case with 4 failing images is accepted"
for c in list-a list-b list-c; do
	make_case "$c" 1 1 "" $( [ $c = list-b ] && echo ev-0=500 )
	post_json /api/generate-case-images "$T/$c.json"
done
for c in case-fail list-a list-b list-c; do
	check "job $c ends" wait_final "$c" 60
done
is "$(job_status case-fail)" partial "case-fail is partial"
NO_AUTH=1 http GET /api/case-images/case-fail
is "$CODE" 401 "status_auth = token: the status needs the token"

browser_run retry.js 150
is "$(job_status case-fail)" completed "the retried job is completed in the store"
is "$(db "SELECT retry_count FROM jobs WHERE case_id = 'case-fail'")" 1 \
    "... after one retry"
done_testing
