#!/bin/sh
# Logs worth reading: a rate-limit wait over a second is logged at info;
# with log_level = debug each request's start and end, each answer of the
# image API, each file written and each webhook attempt get a line; no
# client can forge a line with a newline in its path. And lastError is
# left out of a status answer when there is none (lastError?: string).
. "$(dirname "$0")/lib.sh"

start_receiver
start_stack "rate_limit = 2"
L=$T/imagegen.log
# Two requests in the last minute already, 55 s ago: the window is full
# for the next 6 s.
now=$(($(date +%s%N) / 1000000))
sqlite3 "$T/imagegen.db" "INSERT INTO api_calls (at, case_id, provider) VALUES
    ($((now - 55000)), 'earlier', 'gemini'), ($((now - 55000)), 'earlier', 'gemini')"
make_case case-log 1 1 "$HOOK_URL"
post_json /api/generate-case-images "$T/case-log.json"
check "the job finishes" wait_final case-log 40
hooked() { grep -q 'webhook final .* delivered' "$L"; }
wait_for 20 hooked

check "the wait for the rate limit is logged at info" \
    grep -Eq "info: case case-log: throttle: rate_limit of 2 requests a minute reached; waiting [0-9]+ ms" "$L"
check "... and its end, with how long it was" \
    grep -Eq "info: case case-log: throttle: waited (1[0-9]{3}|[2-9][0-9]{3}|[0-9]{5}) ms for the image API" "$L"
check "debug: a request's start" \
    grep -q "debug: serve: POST /api/generate-case-images: start" "$L"
check "debug: ... and its end, with the status and time" \
    grep -Eq "debug: serve: POST /api/generate-case-images: 202 in [0-9]+ ms" "$L"
check "debug: the image API's answer" \
    grep -Eq "debug: case case-log: image ev-0: the image API \\(gemini\\) answered in [0-9]+ ms: a picture" "$L"
check "debug: the file written" \
    grep -q "debug: case case-log: image loc-0: wrote $T/media/case-log/loc-0.jpg" "$L"
check "debug: each webhook attempt, with its id" \
    grep -Eq "debug: case case-log: webhook final case-log-[0-9a-f]{16}: attempt 1" "$L"

http GET /api/case-images/case-log
is "$(json 'has("lastError")')" false "a job without an error has no lastError"
is "$(json .status)" completed "... and it completed"

http GET "/api/case-images/x%0Aforged-line"
is "$CODE" 404 "a path with an encoded newline is answered 404"
check "... and forges no log line" sh -c "! grep -q '^forged-line' '$L'"

done_testing
