#!/bin/sh
# provider = openai through nginx, the FastCGI responder and the worker,
# against the mock's images/generations: the request on the wire, JPEG
# answers, a refusal that is final, retries, and a job that a bad key or
# an unknown model ends at once.
. "$(dirname "$0")/lib.sh"

start_stack "provider = openai" "retry_base = 100" "retry_cap = 400"
make_case case-o 10 4
post_json /api/generate-case-images "$T/case-o.json"
is "$CODE" 202 "generate answers 202"
check "the job finishes within 60 s" wait_final case-o 60
http GET /api/case-images/case-o
is "$(json .status)" completed "14 pictures through images/generations"
url=$(json '.locationImages["loc-3"]')
curl -s -o "$T/loc-3.jpg" "$BASE$url"
is "$(identify -format '%m %w %h' "$T/loc-3.jpg" 2>/dev/null)" "JPEG 512 512" \
    "a 1024x1024 JPEG answer becomes a 512x512 JPEG"

L=$T/mock.log
is "$(jq -r .path "$L" | sort -u)" /v1/images/generations "the Images API route"
is "$(jq -r '.headers.authorization' "$L" | sort -u)" "Bearer $API_KEY" \
    "the key travels as a bearer token"
is "$(jq -r '.headers["x-goog-api-key"]' "$L" | sort -u)" null "and in no Google header"
is "$(jq -c '.body | del(.prompt)' "$L" | sort -u)" \
    '{"model":"gpt-image-2.6-sunburst","n":1,"size":"1024x1024","quality":"medium","output_format":"jpeg"}' \
    "gpt-image-2.6-sunburst, one 1024x1024 JPEG of medium quality"

: > "$L"
make_case case-of 4 1 "" ev-0=moderation ev-1=429x1 ev-2=503x1 ev-3=closex1
post_json /api/generate-case-images "$T/case-of.json"
check "the faulty job finishes within 60 s" wait_final case-of 60
http GET /api/case-images/case-of
img() { json ".images[] | select(.id == \"$1\") | $2"; }
is "$(img ev-0 '.status + " " + (.attempts|tostring) + " " + .error')" \
    "failed 1 HTTP 400 moderation_blocked: Your request was rejected by the safety system." \
    "a moderation refusal fails the image at once"
is "$(img ev-1 '.status + " " + (.attempts|tostring)')" "completed 2" "a 429 is retried"
gap=$(jq -s '[.[] | select(.prompt != null and (.prompt | contains("Evidence number 1 ")))
    | .t_start] | sort | (.[1] - .[0]) * 1000 | floor' "$L")
check "... after retry-after's 1 s, not retry_base's 100 ms ($gap ms)" test "$gap" -ge 950
is "$(img ev-2 '.status + " " + (.attempts|tostring)')" "completed 2" "a 503 is retried"
is "$(img ev-3 '.status + " " + (.attempts|tostring)')" "completed 2" "a cut-off body is retried"

# An unknown model and a wrong key end the job at once.
# The backoff is 15 s at least: "at once" is told from "after a backoff"
# by the store's clock, whatever the machine's load.
restart_stack "provider = openai" "openai_model = gpt-image-0-retired" \
    "retry_base = 30000" "retry_cap = 30000"
make_case case-404 10 4
post_json /api/generate-case-images "$T/case-404.json"
wait_final case-404 60
ms=$(job_ms case-404)
http GET /api/case-images/case-404
is "$(json .status)" failed "an unknown model, the only one listed, fails the job"
check "... at once, before any backoff ($ms ms < 15000)" test -n "$ms" -a "${ms:-x}" -lt 15000
check "... after at most one call per image ($(wc -l < "$L") calls)" test "$(wc -l < "$L")" -le 14
is "$(json '.images[0].error')" "HTTP 404: The model \`gpt-image-0-retired\` does not exist or you do not have access to it. (check openai_model: gpt-image-0-retired is retired or misspelt)" \
    "... naming openai_model"

export OPENAI_API_KEY=sk-wrong-key
restart_stack "provider = openai"
make_case case-401 2 1
post_json /api/generate-case-images "$T/case-401.json"
wait_final case-401 20
http GET /api/case-images/case-401
is "$(json '.status + " " + .images[0].error')" \
    "failed HTTP 401: Incorrect API key provided. (check openai_api_key or OPENAI_API_KEY)" \
    "a wrong key fails the job, naming the key's settings"
check "the key is in no log" sh -c "! grep -q sk-wrong-key '$T/imagegen.log'"
is "$("$IMAGEGEN" config | grep '^openai_api_key')" "openai_api_key = (set)" \
    "imagegen config shows only that the OpenAI key is set"

done_testing
