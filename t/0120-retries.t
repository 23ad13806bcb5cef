#!/bin/sh
# Per-image retries: transient failures (connect errors, timeouts, 408, 429,
# 500, 502, 503, 504) are retried with exponential backoff and jitter,
# honouring Retry-After in both forms; the others fail at once.
. "$(dirname "$0")/lib.sh"

# The backoffs are long enough (3..6 s, then 6..12 s) that a loaded machine's
# delays stay well under the margin that tells one backoff from two; the
# request timeout is long enough that a slow answer is not a timeout (at a
# load of 24 on 2 cores, one answer of the mock took more than 5 s).
MOCK_ARGS="--latency 0.05" start_stack "retry_base = 6000" "retry_cap = 12000" \
    "retry_attempts = 3" "request_timeout = 15"
make_case case-retry 10 4 "" ev-0=500x2 ev-1=503x1 ev-2=429=7x1 ev-3=429date=9x1 \
    ev-4=400 ev-5=500 ev-6=notimage ev-7=502x1 ev-8=504x1 ev-9=408x1 \
    loc-0=empty loc-1=filtered loc-2=hang=30x1
post_json /api/generate-case-images "$T/case-retry.json"
check "the job finishes" wait_final case-retry 90
http GET /api/case-images/case-retry

attempts() { json ".images[] | select(.id == \"$1\") | \"\(.status) \(.attempts)\""; }
is "$(attempts ev-0)" "completed 3" "500 twice, then success: completed on the 3rd attempt"
is "$(attempts ev-1)" "completed 2" "503 is retried"
is "$(attempts ev-7)" "completed 2" "502 is retried"
is "$(attempts ev-8)" "completed 2" "504 is retried"
is "$(attempts ev-9)" "completed 2" "408 is retried"
is "$(attempts loc-2)" "completed 2" "a request timeout is retried"
is "$(attempts ev-2)" "completed 2" "429 with Retry-After: 7 is retried"
is "$(attempts ev-3)" "completed 2" "429 with an HTTP-date Retry-After is retried"
is "$(attempts ev-4)" "failed 1" "400 fails at once"
is "$(attempts ev-6)" "failed 1" "bytes that are not an image fail at once"
is "$(attempts loc-0)" "failed 1" "an answer without candidates fails at once"
is "$(attempts loc-1)" "failed 1" "a safety-filtered answer fails at once"
is "$(attempts ev-5)" "failed 3" "500 every time: failed after 3 attempts"
is "$(json '.images[] | select(.id == "ev-5") | .error')" "HTTP 500: mock-imagen injected fault 500" \
    "... with the last error recorded"
is "$(json '.images[] | select(.id == "loc-1") | .error')" \
    "no image: finishReason IMAGE_SAFETY: Unable to show the generated image: it may violate the policy (mock)." \
    "the filter's reason is kept, in Google's words (finishMessage)"
is "$(json .status)/$(json .completedImages)/$(json .failedImages)" partial/9/5 "9 completed, 5 failed"
is "$(sqlite3 "$T/imagegen.db" "SELECT sum(attempts) FROM images")" 25 "25 attempts recorded in all"
is "$(wc -l < "$T/mock.log")" 25 "the mock saw exactly those 25 requests"

# The waits between attempts. The worker logs the backoff it draws; the
# mock's own clock says how long it then saw nothing of that image: at
# least the backoff (it is waited), and less than twice it (it is waited
# once). The margin, one backoff of 3 s or more, is not the machine's speed.
gaps() {	# gaps ITEM: ms between consecutive requests for that item
	jq -r --arg m "$1 of case" 'select(.prompt | contains($m)) | "\(.t_start) \(.t_end)"' "$T/mock.log" |
	    awk 'NR > 1 {printf "%d\n", ($1 - end) * 1000} {end = $2}'
}
delays() {	# delays ITEM: the backoffs the worker logged for that item, in ms
	sed -n "s/.*case case-retry: image $1 attempt [0-9]* failed: .*; retrying in \([0-9]*\) ms$/\1/p" \
	    "$T/imagegen.log"
}
between() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
d=$(delays ev-5); d1=$(echo "$d" | sed -n 1p); d2=$(echo "$d" | sed -n 2p)
g=$(gaps "number 5"); g1=$(echo "$g" | sed -n 1p); g2=$(echo "$g" | sed -n 2p)
check "backoff after the 1st failure: 3000..6000 ms with jitter ($d1 ms)" between "$d1" 3000 6000
check "backoff after the 2nd failure: 6000..12000 ms ($d2 ms)" between "$d2" 6000 12000
check "... waited once after the 1st: $d1 <= $g1 < 2 x $d1 ms" between "$g1" $((d1 - 5)) $((2 * d1 - 1))
check "... waited once after the 2nd: $d2 <= $g2 < 2 x $d2 ms" between "$g2" $((d2 - 5)) $((2 * d2 - 1))
is "$(delays ev-2)" 7000 "Retry-After: 7 is honoured over the backoff of 6000 ms at most"
g=$(gaps "Evidence number 2")
check "... and waited ($g ms)" between "$g" 6995 13999
d=$(delays ev-3)
check "an HTTP-date Retry-After (9 s ahead, in whole seconds) is honoured over the backoff ($d ms)" between "$d" 6001 9000
g=$(gaps "Evidence number 3")
check "... and waited ($g ms)" between "$g" $((d - 5)) $((2 * d - 1))

# The job deadline still holds: a backoff that would end past it is not waited.
# The store's own clock says how long the job ran: well under its deadline.
sed -i 's/^retry_base = .*/retry_base = 60000/; s/^retry_cap = .*/retry_cap = 60000/' "$T/imagegen.conf"
echo "job_deadline = 20" >> "$T/imagegen.conf"
make_case case-short 1 1 "" ev-0=503
post_json /api/generate-case-images "$T/case-short.json"
check "a job whose retry would outlive its deadline finishes" wait_final case-short 60
el=$(sqlite3 "$T/imagegen.db" "SELECT completed_at - started_at FROM jobs WHERE case_id = 'case-short'")
check "... at once, not after the backoff nor at the 20 s deadline ($el ms)" between "$el" 0 9999
http GET /api/case-images/case-short
is "$(json '.images[] | select(.id == "ev-0") | "\(.status) \(.attempts) \(.error)"')" \
    "failed 1 HTTP 503: mock-imagen injected fault 503" "... failing the image with its last error"

done_testing
