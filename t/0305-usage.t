#!/bin/sh
# What a case costs: each image keeps the tokens its provider reported
# (Gemini's usageMetadata, OpenAI's usage), and the metrics add them up
# by provider with an estimated cost in USD from price_per_image, or from
# price_per_mtok where the provider counted tokens.
. "$(dirname "$0")/lib.sh"

start_stack "provider = gemini"
make_case case-u 10 4
post_json /api/generate-case-images "$T/case-u.json"
check "the job finishes within 60 s" wait_final case-u 60
is "$(sqlite3 "$T/imagegen.db" "SELECT count(*), sum(output_tokens), min(prompt_tokens) > 0
    FROM images WHERE case_id = 'case-u' AND provider = 'gemini'")" "14|18060|1" \
    "each image keeps usageMetadata's tokens: 1290 output tokens each"
http GET /api/metrics/image-generation
check "the metrics sum the output tokens by provider" \
    grep -qx 'imagegen_provider_tokens_total{provider="gemini",kind="output"} 18060' "$T/body"
check "... and the prompt tokens" \
    grep -q '^imagegen_provider_tokens_total{provider="gemini",kind="prompt"} [1-9]' "$T/body"
check "a case costs the reference's \$0.546 at the default \$0.039 an image" \
    grep -qx 'imagegen_provider_estimated_cost_usd_total{provider="gemini"} 0.546' "$T/body"
http GET /api/metrics/image-generation -H 'Accept: application/json'
jcheck "the JSON figures have them too" \
    '.providers.gemini.completed == 14 and .providers.gemini.outputTokens == 18060
     and .providers.gemini.estimatedCostUsd == 0.546'

# Priced per million output tokens instead, as Google bills: 18060 x 30 / 1e6.
restart_stack "provider = gemini" "price_per_mtok = gemini:30"
http GET /api/metrics/image-generation
check "price_per_mtok prices the tokens: \$0.5418" \
    grep -qx 'imagegen_provider_estimated_cost_usd_total{provider="gemini"} 0.5418' "$T/body"

# OpenAI's usage, and its own price.
make_case case-o 1 1
sed -i 's/^provider = gemini$/provider = openai/' "$T/imagegen.conf"
post_json /api/generate-case-images "$T/case-o.json"
wait_final case-o 60
is "$(sqlite3 "$T/imagegen.db" "SELECT group_concat(output_tokens) FROM images
    WHERE case_id = 'case-o'")" "1056,1056" "OpenAI's usage.output_tokens are kept"
http GET /api/metrics/image-generation
check "openai's images cost \$0.042 each by default" \
    grep -qx 'imagegen_provider_estimated_cost_usd_total{provider="openai"} 0.084' "$T/body"

printf 'price_per_image = gemini:cheap\n' > "$T/bad.conf"
is "$("$IMAGEGEN" -c "$T/bad.conf" config 2>&1)" \
    "imagegen: $T/bad.conf: price_per_image: not prices in USD, as \"0.039\" or \"gemini:0.039 openai:0.042\"" \
    "a price that is not a number is refused"

done_testing
