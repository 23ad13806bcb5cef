#!/bin/sh
# providers = gemini openai: a case whose first provider is down (an
# outage, or a retired model) is made by the second; a refusal stays
# final unless failover_on_refusal says otherwise. The status says which
# provider and model made each image, the metrics count images by
# provider, and each provider has its own host-wide limits.
. "$(dirname "$0")/lib.sh"

img() { json ".images[] | select(.id == \"$1\") | $2"; }
calls() { jq -r .path "$T/mock.log" | grep -c "$1"; }

# 1. Gemini answers 503 to everything: each image is retried there, then moved.
MOCK_ARGS="--down gemini=503" start_stack "providers = gemini openai" \
    "retry_attempts = 2" "retry_base = 50" "retry_cap = 100"
make_case case-down 10 4
post_json /api/generate-case-images "$T/case-down.json"
check "the job finishes within 60 s" wait_final case-down 60
http GET /api/case-images/case-down
is "$(json .status)" completed "a case whose first provider is down completes"
is "$(json '[.images[] | .provider + " " + .model] | unique | join(",")')" \
    "openai gpt-image-2.6-sunburst" "the status says openai's gpt-image-2.6-sunburst made every image"
"$IMAGEGEN" show case-down > "$T/show"
is "$(awk '$1 ~ /^(ev|loc)-/ { print $6, $7 }' "$T/show" | sort -u)" "openai gpt-image-2.6-sunburst" \
    "imagegen show names the provider and model of every image"
jcheck "every image took two attempts at gemini and one at openai" \
    '[.images[] | select(.attempts == 3)] | length == 14'
is "$(calls ':generateContent$'),$(calls '^/v1/images/generations$')" 28,14 \
    "gemini was asked retry_attempts times per image, openai once"
is "$(jq -r 'select(.path | endswith(":generateContent")) | .model' "$T/mock.log" | sort -u)" \
    gemini-nano-banana-2.1 "... its first model only: an outage is not a retirement"
is "$(sqlite3 "$T/imagegen.db" "SELECT group_concat(provider || ':' || n, ' ') FROM
    (SELECT provider, count(*) AS n FROM api_calls GROUP BY provider ORDER BY provider)")" \
    "gemini:28 openai:14" "rate_limit counts each provider's calls apart"
check "each provider has its own slots for max_inflight" \
    test -f "$T/imagegen.db.gemini.slots" -a -f "$T/imagegen.db.openai.slots"
check "the log says where each image went" \
    grep -q "image ev-0: gemini/gemini-nano-banana-2.1: HTTP 503: The model is overloaded.*; trying openai/gpt-image-2.6-sunburst" "$T/imagegen.log"
http GET /api/metrics/image-generation
check "the metrics count the images by provider" \
    grep -qx 'imagegen_provider_images_total{provider="openai",result="completed"} 14' "$T/body"
check "... and gemini made none" \
    sh -c "! grep -q 'imagegen_provider_images_total{provider=\"gemini\",result=\"completed\"} [1-9]' '$T/body'"

# 2. A retired Gemini model: one call per image at most, then openai.
restart_stack "providers = gemini openai" "gemini_model = gemini-1.0-pro-vision-retired"
make_case case-404 10 4
t0=$(date +%s%N)
post_json /api/generate-case-images "$T/case-404.json"
wait_final case-404 30
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
http GET /api/case-images/case-404
is "$(json .status)" completed "a retired first model: the case completes on the second provider"
n=$(calls ':generateContent$')
check "... gemini asked at most once per image ($n calls)" test "$n" -le 14
check "... and no image asked twice there" sh -c "test \$(jq -r 'select(.path | endswith(\":generateContent\")) | .prompt' '$T/mock.log' | sort | uniq -d | wc -l) -eq 0"
is "$(json '[.images[].provider] | unique | join(",")')" openai "... every image from openai"
diag "retired first model: case completed on openai in $ms ms"

# 3. A refusal is final by default, moved with failover_on_refusal = yes.
restart_stack "providers = gemini openai"
make_case case-refused 1 1 "" ev-0=safety
post_json /api/generate-case-images "$T/case-refused.json"
wait_final case-refused 30
http GET /api/case-images/case-refused
is "$(img ev-0 '.status + " " + .provider + " " + .error')" \
    "failed gemini no image: finishReason IMAGE_SAFETY: Unable to show the generated image: it may violate the policy (mock)." \
    "a refused image is not moved by default"
is "$(calls '^/v1/images/generations$')" 0 "... openai was not asked"

restart_stack "providers = gemini openai" "failover_on_refusal = yes"
make_case case-moved 1 1 "" ev-0=safety
post_json /api/generate-case-images "$T/case-moved.json"
wait_final case-moved 30
http GET /api/case-images/case-moved
is "$(img ev-0 '.status + " " + .provider')" "completed openai" \
    "with failover_on_refusal = yes openai makes it"
is "$(img loc-0 '.status + " " + .provider + " " + .model')" \
    "completed gemini gemini-nano-banana-2.1" "the other image still comes from gemini"

# 4. Both down: the image fails with each provider's reason.
MOCK_ARGS="--down gemini=503 --down openai=503" restart_stack "providers = gemini openai" \
    "retry_attempts = 1"
make_case case-both 1 1
post_json /api/generate-case-images "$T/case-both.json"
wait_final case-both 30
http GET /api/case-images/case-both
is "$(json .status)" failed "with every provider down the job fails"
is "$(img ev-0 .error)" "gemini/gemini-nano-banana-2.1: HTTP 503: The model is overloaded. Please try again later.; openai/gpt-image-2.6-sunburst: HTTP 503: mock-imagen injected fault 503" \
    "... the error keeps each provider's reason, in order"

# 5. A bad providers list stops start-up with the reason.
printf 'providers = gemini dalle\n' > "$T/bad.conf"
is "$("$IMAGEGEN" -c "$T/bad.conf" config 2>&1)" \
    "imagegen: $T/bad.conf: providers: unknown \"dalle\": use gemini, openai or local, each once" \
    "an unknown provider is refused, with the choices"

done_testing
