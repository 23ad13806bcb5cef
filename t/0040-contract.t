#!/bin/sh
# What the image API receives: Gemini's generateContent as @google/genai
# 3.6.1 sends it (provider-wire-formats.md), "store": false unless
# gemini_store = yes, the key in its header only, and the reference's
# prompt wording with name and description.
. "$(dirname "$0")/lib.sh"

start_stack "gemini_model = gemini-3-pro-image"
make_case case-wire 2 1
post_json /api/generate-case-images "$T/case-wire.json"
check "the job finishes" wait_final case-wire 30
is "$(job_status case-wire)" completed "the job is completed"

L=$T/mock.log
is "$(wc -l < "$L")" 3 "three requests for three images"
is "$(jq -r .method "$L" | sort -u)" POST "every request is a POST"
is "$(jq -r .path "$L" | sort -u)" "/v1beta/models/gemini-3-pro-image:generateContent" \
    "to the configured model's generateContent method"
is "$(jq -r '.headers["x-goog-api-key"]' "$L" | sort -u)" "$API_KEY" "the key is in x-goog-api-key"
is "$(jq -r '.query' "$L" | sort -u)" "" "no query string: the key is never in the URL"
is "$(jq -r '.headers["content-type"]' "$L" | sort -u)" application/json "the body is JSON"
is "$(jq -c '.body.generationConfig' "$L" | sort -u)" \
    '{"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"1:1"}}' \
    "generationConfig: an image, 1:1; no imageSize nor thinkingConfig unless set"
is "$(jq -c '.body.store' "$L" | sort -u)" false \
    '"store": false on every request by default: the case text is not kept by Google'
is "$(jq -c '.body | keys_unsorted' "$L" | sort -u)" '["contents","store","generationConfig"]' \
    "the top-level fields, in the SDK's order"
is "$(jq -c '.body.contents | map(.role, (.parts | length))' "$L" | sort -u)" '["user",1]' \
    "one user content of one text part per request"
is "$(jq -r 'select(.prompt | contains("Evidence 0")) | .prompt' "$L")" \
    "Evidence photography: Evidence 0. Evidence number 0 of case case-wire. Clear detail, forensic quality, neutral background." \
    "evidence prompt: the reference's wording, name and description filled in"
is "$(jq -r 'select(.prompt | contains("Location 0")) | .prompt' "$L")" \
    "Atmospheric environmental photography: Location 0. Location number 0 of case case-wire. Film noir aesthetic, dramatic lighting, moody atmosphere, empty location." \
    "location prompt: the reference's wording"
check "the key appears in no log" sh -c "! grep -rq '$API_KEY' '$T/imagegen.log' '$T/nginx-error.log' '$T/nginx-access.log'"
check "nor in any status response" sh -c "curl -s '$BASE/api/case-images/case-wire' | grep -vq '$API_KEY'"

# Custom prompt templates from the config, and Google's options as the SDK sends them.
set_config 'evidence_prompt = EV <{name}> <{description}> {other}' 'gemini_store = yes' \
    'gemini_image_size = 2K' 'gemini_thinking_level = MINIMAL'
make_case case-tmpl 1 1
post_json /api/generate-case-images "$T/case-tmpl.json"
check "the second job finishes" wait_final case-tmpl 30
is "$(jq -r 'select(.prompt | startswith("EV")) | .prompt' "$L")" \
    "EV <Evidence 0> <Evidence number 0 of case case-tmpl> {other}" \
    "a configured template is filled in, other braces left alone"
jq -c 'select(.prompt | contains("case-tmpl")) | .body' "$L" > "$T/tmpl-bodies"
is "$(jq -c '.generationConfig' "$T/tmpl-bodies" | sort -u)" \
    '{"responseModalities":["IMAGE"],"thinkingConfig":{"thinkingLevel":"MINIMAL"},"imageConfig":{"aspectRatio":"1:1","imageSize":"2K"}}' \
    "gemini_thinking_level and gemini_image_size go where the SDK puts them"
is "$(jq -c 'has("store")' "$T/tmpl-bodies" | sort -u)" false \
    "gemini_store = yes sends no store field"
is "$(sqlite3 "$T/imagegen.db" "SELECT sum(output_tokens) FROM images WHERE case_id = 'case-tmpl'")" \
    2740 "thinking tokens count in the output tokens (2 x (1120 + 250))"

done_testing
