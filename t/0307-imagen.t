#!/bin/sh
# provider = imagen, kept for Vertex AI: imagen_endpoint takes Vertex's
# whole :predict URL; includeRaiReason makes a filtered image say why,
# and that refusal is final; the picture is the first prediction with
# bytes, even after a filtered one.
. "$(dirname "$0")/lib.sh"

start_mock
VERTEX=/v1/projects/demo-project/locations/us-central1/publishers/google/models/imagen-4.0-generate-001:predict
write_config "imagen_endpoint = $MOCK_URL$VERTEX" "imagen_model = imagen-4.0-generate-001" \
    "retry_base = 100"
start_imagegen
start_nginx
make_case case-v 3 1 "" ev-0=filtered ev-1=raifirst
post_json /api/generate-case-images "$T/case-v.json"
check "the job finishes within 30 s" wait_final case-v 30
http GET /api/case-images/case-v
img() { json ".images[] | select(.id == \"$1\") | $2"; }
is "$(jq -r .path "$T/mock.log" | sort -u)" "$VERTEX" "every request goes to the Vertex AI URL as given"
is "$(jq -c .body.parameters "$T/mock.log" | sort -u)" \
    '{"sampleCount":1,"aspectRatio":"1:1","includeRaiReason":true}' "includeRaiReason is sent"
is "$(jq -r '.headers["x-goog-api-key"]' "$T/mock.log" | sort -u)" "$API_KEY" \
    "the key travels in x-goog-api-key"
is "$(img ev-0 '.status + " " + (.attempts|tostring) + " " + .error')" \
    "failed 1 filtered: Blocked by safety filter" "a filtered image fails at once, saying why"
is "$(img ev-1 .status)" completed "the first prediction with bytes is taken after a filtered one"
is "$(img ev-2 '.status + " " + .provider + " " + .model')" \
    "completed imagen imagen-4.0-generate-001" "the others are made, by imagen, as imagen_model names it"

printf 'imagen_endpoint = ftp://example.com/x\n' > "$T/bad.conf"
is "$("$IMAGEGEN" -c "$T/bad.conf" config 2>&1)" \
    "imagegen: $T/bad.conf:1: imagen_endpoint: not an http or https URL" \
    "imagen_endpoint must be an http or https URL"

done_testing
