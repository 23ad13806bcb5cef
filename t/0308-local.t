#!/bin/sh
# provider = local, the demo's, through the same provider table: pictures
# drawn offline after local_delay, no key, no request to any API; the
# status names the provider; `imagegen check` needs nothing for it; and a
# chain may end in it (providers = gemini local) when Gemini has no key.
. "$(dirname "$0")/lib.sh"

start_mock
export GEMINI_API_KEY= OPENAI_API_KEY=
write_config "provider = local" "local_delay = 100"
start_imagegen
start_nginx
make_case case-l 10 4
post_json /api/generate-case-images "$T/case-l.json"
check "the job finishes within 30 s" wait_final case-l 30
http GET /api/case-images/case-l
is "$(json .status)" completed "14 placeholder pictures, with no key"
is "$(json '[.images[] | .provider + " " + .model] | unique | join(",")')" "local placeholder" \
    "the status says the local provider made them"
is "$(wc -l < "$T/mock.log")" 0 "no request reached any API"
is "$("$IMAGEGEN" check)" "local placeholder: ok: offline placeholders, no key needed" \
    "imagegen check needs nothing for local"

# Gemini without a key, then local: every image falls through at once.
sed -i 's/^provider = local$/providers = gemini local/' "$T/imagegen.conf"
make_case case-chain 2 1
post_json /api/generate-case-images "$T/case-chain.json"
wait_final case-chain 30
http GET /api/case-images/case-chain
is "$(json '.status + " " + ([.images[].provider] | unique | join(","))')" "completed local" \
    "with no Gemini key the chain's next provider makes every image"
is "$(wc -l < "$T/mock.log")" 0 "... and Gemini is never asked"
check "the log says gemini has no key, once" \
    sh -c "test \$(grep -c 'case case-chain: gemini: no key: set api_key or GEMINI_API_KEY; no more requests' '$T/imagegen.log') -eq 1"

done_testing
