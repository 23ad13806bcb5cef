#!/bin/sh
# What the image API receives: the predict method, the key in its header
# only, and the reference's prompt wording with name and description.
. "$(dirname "$0")/lib.sh"

start_stack "imagen_model = imagen-test-001"
make_case case-wire 2 1
post_json /api/generate-case-images "$T/case-wire.json"
check "the job finishes" wait_final case-wire 30
is "$(job_status case-wire)" completed "the job is completed"

L=$T/mock.log
is "$(wc -l < "$L")" 3 "three requests for three images"
is "$(jq -r .method "$L" | sort -u)" POST "every request is a POST"
is "$(jq -r .path "$L" | sort -u)" "/v1beta/models/imagen-test-001:predict" \
    "to the configured model's predict method"
is "$(jq -r '.headers["x-goog-api-key"]' "$L" | sort -u)" "$API_KEY" "the key is in x-goog-api-key"
is "$(jq -r '.query' "$L" | sort -u)" "" "no query string: the key is never in the URL"
is "$(jq -r '.headers["content-type"]' "$L" | sort -u)" application/json "the body is JSON"
is "$(jq -c '.body.parameters' "$L" | sort -u)" '{"sampleCount":1,"aspectRatio":"1:1","includeRaiReason":true}' \
    "parameters: one 1:1 sample, with the reason should it be filtered"
is "$(jq -r '.body.instances | length' "$L" | sort -u)" 1 "one instance per request"
is "$(jq -r 'select(.prompt | contains("Evidence 0")) | .prompt' "$L")" \
    "Evidence photography: Evidence 0. Evidence number 0 of case case-wire. Clear detail, forensic quality, neutral background." \
    "evidence prompt: the reference's wording, name and description filled in"
is "$(jq -r 'select(.prompt | contains("Location 0")) | .prompt' "$L")" \
    "Atmospheric environmental photography: Location 0. Location number 0 of case case-wire. Film noir aesthetic, dramatic lighting, moody atmosphere, empty location." \
    "location prompt: the reference's wording"
check "the key appears in no log" sh -c "! grep -rq '$API_KEY' '$T/imagegen.log' '$T/nginx-error.log' '$T/nginx-access.log'"
check "nor in any status response" sh -c "curl -s '$BASE/api/case-images/case-wire' | grep -vq '$API_KEY'"

# Custom prompt templates from the config.
sed -i '/imagen_model/d' "$T/imagegen.conf"
set_config 'evidence_prompt = EV <{name}> <{description}> {other}'
make_case case-tmpl 1 1
post_json /api/generate-case-images "$T/case-tmpl.json"
check "the second job finishes" wait_final case-tmpl 30
is "$(jq -r 'select(.prompt | startswith("EV")) | .prompt' "$L")" \
    "EV <Evidence 0> <Evidence number 0 of case case-tmpl> {other}" \
    "a configured template is filled in, other braces left alone"

done_testing
