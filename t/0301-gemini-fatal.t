#!/bin/sh
# A retired model or a bad key fails every image the same way: the job
# ends at once, with at most one paid call per image and an error
# that names the setting to fix. Before, a retired model cost 14 x
# retry_attempts calls and the whole backoff. The backoff here is 15 s at
# least, so "at once" (under 2 s by the store's clock on a quiet machine)
# is told from "after a backoff" whatever the machine's load.
. "$(dirname "$0")/lib.sh"

# run_case ID: submits a 14-image case, sets MS to the job's time from its
# creation to its end, by the store, and BODY to $T/ID.status.
run_case() {
	make_case "$1" 10 4
	post_json /api/generate-case-images "$T/$1.json"
	wait_final "$1" 60
	MS=$(job_ms "$1")
	http GET "/api/case-images/$1"
	cp "$T/body" "$T/$1.status"
}
calls() { jq -r .path "$T/mock.log" | grep -c ':generateContent$'; }
restart() {	# restart KEY [config lines...]: the stack again, with GEMINI_API_KEY=KEY
	export GEMINI_API_KEY="$1"; shift
	restart_stack "$@" "retry_base = 30000" "retry_cap = 30000"
}

start_stack "provider = gemini" "gemini_model = gemini-2.0-flash-exp-image-retired" \
    "retry_attempts = 5" "retry_base = 30000" "retry_cap = 30000"
run_case case-404
is "$(json .status)" failed "a retired model fails the job"
check "... at once, before any backoff ($MS ms < 15000)" test -n "$MS" -a "${MS:-x}" -lt 15000
n=$(calls)
check "... after at most one call per image ($n calls for 14 images)" test "$n" -le 14
check "... no image called twice" sh -c "test \$(jq -r .prompt '$T/mock.log' | sort | uniq -d | wc -l) -eq 0"
is "$(json '[.images[].error] | unique | length')" 1 "every image has the same error"
is "$(json '.images[0].error')" "HTTP 404: models/gemini-2.0-flash-exp-image-retired is not found for API version v1beta, or is not supported for generateContent. (check gemini_model = gemini-2.0-flash-exp-image-retired)" \
    "... the provider's message and the setting to fix"
check "the log says it once, with the setting" \
    sh -c "test \$(grep -c 'gemini: HTTP 404.*check gemini_model.*no more requests to gemini for this job' '$T/imagegen.log') -eq 1"

# A wrong key: Gemini answers 400 API_KEY_INVALID, not 401.
restart wrong-key "provider = gemini"
run_case case-key
is "$(json .status)" failed "a wrong key fails the job"
check "... at once, before any backoff ($MS ms < 15000)" test -n "$MS" -a "${MS:-x}" -lt 15000
n=$(calls)
check "... after at most one call per image ($n calls)" test "$n" -le 14
is "$(json '.images[0].error')" "HTTP 400: API key not valid. Please pass a valid API key. (check api_key or GEMINI_API_KEY)" \
    "... and the error names the key's settings, never the key"
check "the key is in no log" sh -c "! grep -q wrong-key '$T/imagegen.log'"

# 403: a key without permission.
restart "$API_KEY" "provider = gemini"
make_case case-403 3 1 "" ev-0=403 ev-1=403 ev-2=403 loc-0=403
post_json /api/generate-case-images "$T/case-403.json"
wait_final case-403 20
http GET /api/case-images/case-403
is "$(json '.images[0].status + " " + (.images[0].attempts|tostring) + " " + .images[0].error')" \
    "failed 1 HTTP 403: mock-imagen injected fault 403 (check api_key or GEMINI_API_KEY)" \
    "a 403 fails at once and names the key"

# No key at all: nothing is sent.
restart "" "provider = gemini"
run_case case-nokey
is "$(json '.status + " " + .images[0].error')" "failed no key: set api_key or GEMINI_API_KEY" \
    "with no key the job fails at once, saying what to set"
is "$(calls)" 0 "... and no request is sent"

done_testing
