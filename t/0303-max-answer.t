#!/bin/sh
# max_answer bounds a provider's answer as it streams in, counted after
# gzip decoding: a small compressed body cannot grow past it.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS=--realistic start_stack "provider = gemini" "max_answer = 4194304"
make_case case-m 2 1 "" ev-0=gzipbomb=16
post_json /api/generate-case-images "$T/case-m.json"
check "the job finishes within 30 s" wait_final case-m 30
http GET /api/case-images/case-m
img() { json ".images[] | select(.id == \"$1\") | $2"; }
is "$(img ev-0 '.status + " " + (.attempts|tostring) + " " + .error')" \
    "failed 1 the answer is larger than max_answer (4194304 bytes)" \
    "a gzip body that decodes to 16 MB fails the image, not retried"
sent=$(jq -s '[.[] | select(.fault == "gzipbomb") | .sent] | first' "$T/mock.log")
check "... though only $sent bytes crossed the wire" test "$sent" -lt 100000
is "$(img ev-1 .status),$(img loc-0 .status)" completed,completed \
    "answers of 1.75 MB under the 4 MiB limit are taken"

# A plain answer over the limit: the 1.75 MB JSON of a 1024x1024 picture.
MOCK_ARGS=--realistic restart_stack "provider = gemini" "max_answer = 1048576"
make_case case-small 1 1
post_json /api/generate-case-images "$T/case-small.json"
wait_final case-small 30
http GET /api/case-images/case-small
is "$(json '.status + " " + .images[0].error')" \
    "failed the answer is larger than max_answer (1048576 bytes)" \
    "an answer over max_answer fails its image"
check "imagegen config shows max_answer" sh -c "'$IMAGEGEN' config | grep -qx 'max_answer = 1048576'"

done_testing
