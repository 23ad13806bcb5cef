#!/bin/sh
# provider = gemini through nginx, the FastCGI responder and the worker,
# against the mock's generateContent: the request on the wire, pictures of
# a photograph's size in the default model's format (Gemini 3 models
# answer image/jpeg), and each answer without a picture read right.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--realistic --format model" start_stack "provider = gemini" "retry_base = 100" \
    "retry_cap = 400"
make_case case-g 10 4
post_json /api/generate-case-images "$T/case-g.json"
is "$CODE" 202 "generate answers 202"
check "the job finishes within 60 s" wait_final case-g 60
http GET /api/case-images/case-g
is "$(json .status)" completed "14 pictures through generateContent"
is "$(json '.evidenceImages | length'),$(json '.locationImages | length')" 10,4 \
    "10 evidence and 4 location URLs"
url=$(json '.evidenceImages["ev-0"]')
curl -s -o "$T/ev-0.jpg" "$BASE$url"
is "$(identify -format '%m %w %h' "$T/ev-0.jpg" 2>/dev/null)" "JPEG 512 512" \
    "a 1024x1024 JPEG answer becomes a 512x512 JPEG"

L=$T/mock.log
is "$(jq -r .path "$L" | sort -u)" "/v1beta/models/gemini-nano-banana-2.1:generateContent" \
    "the default model, gemini-nano-banana-2.1, at its generateContent route"
is "$(jq -r '.headers["x-goog-api-key"]' "$L" | sort -u)" "$API_KEY" \
    "the key travels in x-goog-api-key"
is "$(jq -r .query "$L" | sort -u)" "" "the key never travels in the URL"
is "$(jq -c '.body.generationConfig' "$L" | sort -u)" \
    '{"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:1"}}' \
    "generationConfig asks for one 1:1 image, no imageSize: the model's own"
is "$(jq -c .body.store "$L" | sort -u)" false "store is false: Google keeps no copy"
is "$(jq -c '.body.contents[0] | [.role, (.parts | length)]' "$L" | sort -u)" '["user",1]' \
    "one user turn with one text part"
check "the prompt is the evidence template with the item" \
    grep -q '"text": "Evidence photography: Evidence 0\. Evidence number 0 of case case-g' "$L"

# Each answer without a picture, and the transient ones, by marker.
: > "$L"
make_case case-f 7 1 "" ev-0=safety ev-1=blocked ev-2=textonly ev-3=thoughts \
    ev-4=429info=1x1 ev-5=503x1 ev-6=closex1
post_json /api/generate-case-images "$T/case-f.json"
check "the faulty job finishes within 60 s" wait_final case-f 60
http GET /api/case-images/case-f
img() { json ".images[] | select(.id == \"$1\") | $2"; }
is "$(img ev-0 '.status + " " + (.attempts|tostring) + " " + .error')" \
    "failed 1 no image: finishReason IMAGE_SAFETY: Unable to show the generated image: it may violate the policy (mock)." \
    "a safety finishReason fails the image at once, with its finishMessage"
is "$(img ev-1 '.status + " " + (.attempts|tostring) + " " + .error')" \
    "failed 1 prompt blocked: PROHIBITED_CONTENT" "a blocked prompt fails the image at once"
is "$(img ev-2 '.status + " " + (.attempts|tostring)')" "failed 1" \
    "a text-only answer fails the image at once"
check "... saying what the model said" sh -c "jq -r '.images[] | select(.id == \"ev-2\") | .error' '$T/body' | grep -q '^no image: finishReason STOP: Désolé — je ne peux pas'"
len=$(img ev-2 '.error' | head -c 2000 | wc -c)
check "... cut short ($len bytes) on a character boundary, the status JSON still valid" \
    test "$len" -le 301 -a "$len" -gt 100
check "the cut error is valid UTF-8" sh -c "jq -r '.images[] | select(.id == \"ev-2\") | .error' '$T/body' | iconv -f UTF-8 -t UTF-8 >/dev/null"
is "$(img ev-3 .status)" completed "thought images are skipped: the final picture is taken"
is "$(img ev-4 '.status + " " + (.attempts|tostring)')" "completed 2" \
    "a 429 with RetryInfo is retried"
gap=$(jq -s '[.[] | select(.prompt != null and (.prompt | contains("Evidence number 4 ")))
    | .t_start] | sort | (.[1] - .[0]) * 1000 | floor' "$L")
check "... after RetryInfo's retryDelay of 1 s, not retry_base's 100 ms ($gap ms)" \
    test "$gap" -ge 950
is "$(img ev-5 '.status + " " + (.attempts|tostring)')" "completed 2" \
    "a 503 (model overloaded) is retried"
is "$(img ev-6 '.status + " " + (.attempts|tostring)')" "completed 2" \
    "a cut-off body is retried"
is "$(img loc-0 .status)" completed "the clean image beside them is made"

# A default install: no provider line at all, only GEMINI_API_KEY.
sed -i '/^provider = \|^retry_/d' "$T/imagegen.conf"
: > "$L"
make_case case-default 2 1
post_json /api/generate-case-images "$T/case-default.json"
wait_final case-default 30
http GET /api/case-images/case-default
is "$(json '.status + " " + ([.images[] | .provider + "/" + .model] | unique | join(","))')" \
    "completed gemini/gemini-nano-banana-2.1" \
    "with no provider configured, pictures come through generateContent"
is "$(jq -r .path "$L" | sort -u)" "/v1beta/models/gemini-nano-banana-2.1:generateContent" \
    "... and nothing else is asked"

done_testing
