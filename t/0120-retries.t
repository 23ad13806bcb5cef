#!/bin/sh
# Per-image retries: transient failures (connect errors, timeouts, 408, 429,
# 500, 502, 503, 504) are retried with exponential backoff and jitter,
# honouring Retry-After in both forms; the others fail at once.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 0.05" start_stack "retry_base = 200" "retry_cap = 2000" \
    "retry_attempts = 3" "request_timeout = 1"
make_case case-retry 10 4 "" ev-0=500x2 ev-1=503x1 ev-2=429=1x1 ev-3=429date=2x1 \
    ev-4=400 ev-5=500 ev-6=notimage ev-7=502x1 ev-8=504x1 ev-9=408x1 \
    loc-0=empty loc-1=filtered loc-2=hang=30x1
post_json /api/generate-case-images "$T/case-retry.json"
check "the job finishes" wait_final case-retry 30
http GET /api/case-images/case-retry

attempts() { json ".images[] | select(.id == \"$1\") | \"\(.status) \(.attempts)\""; }
is "$(attempts ev-0)" "completed 3" "500 twice, then success: completed on the 3rd attempt"
is "$(attempts ev-1)" "completed 2" "503 is retried"
is "$(attempts ev-7)" "completed 2" "502 is retried"
is "$(attempts ev-8)" "completed 2" "504 is retried"
is "$(attempts ev-9)" "completed 2" "408 is retried"
is "$(attempts loc-2)" "completed 2" "a request timeout is retried"
is "$(attempts ev-2)" "completed 2" "429 with Retry-After: 1 is retried"
is "$(attempts ev-3)" "completed 2" "429 with an HTTP-date Retry-After is retried"
is "$(attempts ev-4)" "failed 1" "400 fails at once"
is "$(attempts ev-6)" "failed 1" "bytes that are not an image fail at once"
is "$(attempts loc-0)" "failed 1" "an empty predictions list fails at once"
is "$(attempts loc-1)" "failed 1" "a safety-filtered answer fails at once"
is "$(attempts ev-5)" "failed 3" "500 every time: failed after 3 attempts"
is "$(json '.images[] | select(.id == "ev-5") | .error')" "HTTP 500: mock-imagen injected fault 500" \
    "... with the last error recorded"
case $(json '.images[] | select(.id == "loc-1") | .error') in
*filtered*) ok 0 "the filter's reason is kept" ;; *) ok 1 "the filter's reason is kept" ;; esac
is "$(json .status)/$(json .completedImages)/$(json .failedImages)" partial/9/5 "9 completed, 5 failed"
is "$(sqlite3 "$T/imagegen.db" "SELECT sum(attempts) FROM images")" 25 "25 attempts recorded in all"
is "$(wc -l < "$T/mock.log")" 25 "the mock saw exactly those 25 requests"

# The waits between attempts, from the mock's own clock.
gaps() {	# gaps ITEM: ms between consecutive requests for that item
	jq -r --arg m "$1 of case" 'select(.prompt | contains($m)) | "\(.t_start) \(.t_end)"' "$T/mock.log" |
	    awk 'NR > 1 {printf "%d\n", ($1 - end) * 1000} {end = $2}'
}
g=$(gaps "number 5"); g1=$(echo "$g" | sed -n 1p); g2=$(echo "$g" | sed -n 2p)
check "backoff after the 1st failure: 100..200 ms with jitter ($g1 ms)" test "$g1" -ge 90 -a "$g1" -le 400
check "backoff after the 2nd failure: 200..400 ms ($g2 ms)" test "$g2" -ge 190 -a "$g2" -le 700
g=$(gaps "Evidence number 2"); 
check "Retry-After: 1 is honoured over the 200 ms backoff ($g ms)" test "$g" -ge 950
g=$(gaps "Evidence number 3")
check "an HTTP-date Retry-After is honoured ($g ms)" test "$g" -ge 900

# The job deadline still holds: a backoff that would end past it is not waited.
sed -i 's/^retry_base = .*/retry_base = 60000/; s/^retry_cap = .*/retry_cap = 60000/' "$T/imagegen.conf"
set_config "job_deadline = 5"
make_case case-short 1 1 "" ev-0=503
t0=$(date +%s)
post_json /api/generate-case-images "$T/case-short.json"
check "a job whose retry would outlive its deadline finishes" wait_final case-short 10
el=$(( $(date +%s) - t0 ))
check "... at once, not after the backoff ($el s)" test "$el" -le 3
http GET /api/case-images/case-short
is "$(json '.images[] | select(.id == "ev-0") | "\(.status) \(.attempts) \(.error)"')" \
    "failed 1 HTTP 503: mock-imagen injected fault 503" "... failing the image with its last error"

done_testing
