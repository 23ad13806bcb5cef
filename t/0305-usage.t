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
    FROM images WHERE case_id = 'case-u' AND provider = 'gemini'")" "14|15680|1" \
    "each image keeps usageMetadata's tokens: 1120 output tokens each"
http GET /api/metrics/image-generation
check "the metrics sum the output tokens by provider" \
    grep -qx 'imagegen_provider_tokens_total{provider="gemini",kind="output"} 15680' "$T/body"
check "... and the prompt tokens" \
    grep -q '^imagegen_provider_tokens_total{provider="gemini",kind="prompt"} [1-9]' "$T/body"
check "a case costs \$0.4704 at the default \$30 a million output tokens, as Google bills" \
    grep -qx 'imagegen_provider_estimated_cost_usd_total{provider="gemini"} 0.4704' "$T/body"
http GET /api/metrics/image-generation -H 'Accept: application/json'
jcheck "the JSON figures have them too" \
    '.providers.gemini.completed == 14 and .providers.gemini.outputTokens == 15680
     and .providers.gemini.estimatedCostUsd == 0.4704'

# Priced per image instead, when price_per_mtok names no price for gemini.
restart_stack "provider = gemini" "price_per_mtok =" "price_per_image = gemini:0.25 openai:0.01"
http GET /api/metrics/image-generation
check "price_per_image prices the pictures instead: \$3.50" \
    grep -qx 'imagegen_provider_estimated_cost_usd_total{provider="gemini"} 3.5' "$T/body"

# OpenAI's usage, and its own price.
make_case case-o 1 1
sed -i 's/^provider = gemini$/provider = openai/' "$T/imagegen.conf"
post_json /api/generate-case-images "$T/case-o.json"
wait_final case-o 60
is "$(sqlite3 "$T/imagegen.db" "SELECT group_concat(output_tokens) FROM images
    WHERE case_id = 'case-o'")" "1056,1056" "OpenAI's usage.output_tokens are kept"
http GET /api/metrics/image-generation
check "openai's images cost its own price_per_image" \
    grep -qx 'imagegen_provider_estimated_cost_usd_total{provider="openai"} 0.02' "$T/body"
restart_stack "provider = gemini"
http GET /api/metrics/image-generation
check "by default, \$30 a million output tokens: \$0.06336 for openai's two" \
    grep -qx 'imagegen_provider_estimated_cost_usd_total{provider="openai"} 0.06336' "$T/body"

printf 'price_per_image = gemini:cheap\n' > "$T/bad.conf"
is "$("$IMAGEGEN" -c "$T/bad.conf" config 2>&1)" \
    "imagegen: $T/bad.conf: price_per_image: not prices in USD, as \"0.039\" or \"gemini:0.039 openai:0.042\"" \
    "a price that is not a number is refused"

done_testing
