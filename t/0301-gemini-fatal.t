#!/bin/sh
# A retired model, a bad key, billing or region (FAILED_PRECONDITION), an
# account limited (PUP_LIMITED_DISABLED) or a quota spent past the
# deadline fails every image the same way: the job ends at once (or moves
# on), with at most one paid call per image and an error that names the
# setting or the page to look at. Before, a retired model cost 14 x
# retry_attempts calls and the whole backoff. The backoff here is 15 s at
# least, so "at once" (under 2 s by the store's clock on a quiet machine)
# is told from "after a backoff" whatever the machine's load.
. "$(dirname "$0")/lib.sh"

# run14 ID [faults...]: a 14-image case to its end (run_case); MS is the
# job's time from its creation to its end, by the store.
run14() {
	id=$1; shift
	run_case "$id" 10 4 "" "$@"
	MS=$(job_ms "$id")
}
calls() { jq -r .path "$T/mock.log" | grep -c ':generateContent$'; }
restart() {	# restart KEY [config lines...]: the stack again, with GEMINI_API_KEY=KEY
	export GEMINI_API_KEY="$1"; shift
	restart_stack "$@" "retry_base = 30000" "retry_cap = 30000"
}
# fast NAME: the job ended before any backoff, with at most one call per image.
fast() {
	check "$1: at once, before any backoff ($MS ms < 15000)" test -n "$MS" -a "${MS:-x}" -lt 15000
	n=$(calls)
	check "$1: at most one call per image ($n calls for 14 images)" test "$n" -le 14
	check "$1: no image called twice" sh -c "test \$(jq -r 'select(.path | endswith(\":generateContent\")) | .body.contents[0].parts[0].text' '$T/mock.log' | sort | uniq -d | wc -l) -eq 0"
}

start_stack "provider = gemini" "gemini_model = gemini-2.0-flash-exp-image-retired" \
    "retry_attempts = 5" "retry_base = 30000" "retry_cap = 30000"
run14 case-404
is "$(json .status)" failed "a retired model, the only one listed, fails the job"
fast "retired"
is "$(json '[.images[].error] | unique | length')" 1 "every image has the same error"
is "$(json '.images[0].error')" "HTTP 404: models/gemini-2.0-flash-exp-image-retired is not found for API version v1beta, or is not supported for generateContent. (check gemini_model: gemini-2.0-flash-exp-image-retired is retired or misspelt)" \
    "... the provider's message and the setting to fix"
check "the log says it once, with the setting" \
    sh -c "test \$(grep -c 'gemini model gemini-2.0-flash-exp-image-retired: HTTP 404.*check gemini_model.*no more requests to it for this job' '$T/imagegen.log') -eq 1"

# A wrong key: Gemini answers 400 API_KEY_INVALID, not 401.
restart wrong-key "provider = gemini"
run14 case-key
is "$(json .status)" failed "a wrong key fails the job"
fast "wrong key"
is "$(json '.images[0].error')" "HTTP 400: API key not valid. Please pass a valid API key. (check api_key or GEMINI_API_KEY)" \
    "... and the error names the key's settings, never the key"
check "the key is in no log" sh -c "! grep -q wrong-key '$T/imagegen.log'"
is "$(jq -r .model "$T/mock.log" | sort -u)" gemini-nano-banana-2.1 \
    "... the second model is not asked: a key is the account's, not the model's"

# 403: a key without permission.
restart "$API_KEY" "provider = gemini"
make_case case-403 3 1 "" ev-0=403 ev-1=403 ev-2=403 loc-0=403
post_json /api/generate-case-images "$T/case-403.json"
wait_final case-403 20
http GET /api/case-images/case-403
is "$(json '.images[0].status + " " + (.images[0].attempts|tostring) + " " + .images[0].error')" \
    "failed 1 HTTP 403: mock-imagen injected fault 403 (check api_key or GEMINI_API_KEY)" \
    "a 403 fails at once and names the key"

# Billing or region: 400 FAILED_PRECONDITION, for every image.
MOCK_ARGS="--down gemini=precondition" restart "$API_KEY" "provider = gemini"
run14 case-pre
is "$(json .status)" failed "FAILED_PRECONDITION fails the job"
fast "FAILED_PRECONDITION"
is "$(json '.images[0].error')" "HTTP 400 FAILED_PRECONDITION: User location is not supported for the API use. (the key's Google project: check its billing and that the API serves its region, in AI Studio or the Cloud console)" \
    "... naming billing and region, and where to look"
is "$(jq -r .model "$T/mock.log" | sort -u)" gemini-nano-banana-2.1 "... and no second model is tried"

# The account limited or disabled: finishReason PUP_LIMITED_DISABLED.
MOCK_ARGS="--down gemini=pup" restart "$API_KEY" "provider = gemini"
run14 case-pup
is "$(json .status)" failed "PUP_LIMITED_DISABLED fails the job"
fast "PUP_LIMITED_DISABLED"
is "$(json '.images[0].error')" "no image: finishReason PUP_LIMITED_DISABLED (the key's account is limited or disabled: see AI Studio)" \
    "... saying the account is limited"

# A quota whose wait is past the job's deadline: a daily quota, say.
restart "$API_KEY" "provider = gemini" "job_deadline = 120"
run14 case-quota ev-0=429info=3600 ev-1=429info=3600 ev-2=429info=3600 \
    ev-3=429info=3600 ev-4=429info=3600 ev-5=429info=3600 ev-6=429info=3600 \
    ev-7=429info=3600 ev-8=429info=3600 ev-9=429info=3600 loc-0=429info=3600 \
    loc-1=429info=3600 loc-2=429info=3600 loc-3=429info=3600
is "$(json .status)" failed "a quota past the deadline fails the job"
fast "quota past the deadline"
case $(json '.images[0].error') in
*"the quota's wait, 3600 s, is past the job's deadline: check the account's quota"*)
	ok 0 "... naming the quota" ;;
*) ok 1 "... naming the quota"; diag "$(json '.images[0].error')" ;;
esac

# With providers = gemini openai the same failure moves the images on.
MOCK_ARGS="--down gemini=precondition" restart "$API_KEY" "providers = gemini openai"
run14 case-pre-moved
is "$(json '.status + " " + ([.images[].provider] | unique | join(","))')" "completed openai" \
    "with a second provider the job completes there"
fast "FAILED_PRECONDITION, moved"

# No key at all: nothing is sent.
restart "" "provider = gemini"
run14 case-nokey
is "$(json '.status + " " + .images[0].error')" "failed no key: set api_key or GEMINI_API_KEY" \
    "with no key the job fails at once, saying what to set"
is "$(calls)" 0 "... and no request is sent"

done_testing
