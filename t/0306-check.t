#!/bin/sh
# imagegen check against the mock's model lists: a good key and model
# pass; a wrong key, a retired model, a text model and a missing key each
# get one line that says what to fix, and exit 1. --generate makes one
# real picture. The FastCGI responder warns at start-up when the last
# check failed, or when none was ever run.
. "$(dirname "$0")/lib.sh"

start_mock
write_config "providers = gemini openai"
start_imagegen
check "the responder warns that no check was ever run" \
    wait_for 10 grep -q "warn: check: .imagegen check. was never run for provider gemini" "$T/imagegen.log"

out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc" 0 "check passes with good keys and models"
is "$out" "gemini: ok: key accepted, gemini-2.5-flash-image listed
openai: ok: key accepted, gpt-image-1 listed" "... one line per provider"
is "$(jq -r .path "$T/mock.log" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" \
    "/v1/models=1 /v1beta/models=1 " "... asking only the free model lists"
is "$(jq -r 'select(.path == "/v1beta/models") | .query + " " + .headers["x-goog-api-key"]' "$T/mock.log")" \
    "pageSize=1000 $API_KEY" "the Gemini list is asked for whole, with the key in its header"

out=$(GEMINI_API_KEY=wrong "$IMAGEGEN" check 2>&1); rc=$?
is "$rc" 1 "a wrong Gemini key fails the check"
is "$(echo "$out" | head -1)" "gemini: FAILED: the model list: HTTP 400: API key not valid. Please pass a valid API key. (check api_key or GEMINI_API_KEY)" \
    "... naming the key's settings"
check "... and never the key" sh -c "! echo '$out' | grep -q wrong"

out=$(OPENAI_API_KEY=sk-bad "$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$(echo "$out" | tail -1)" "1:openai: FAILED: the model list: HTTP 401: Incorrect API key provided. (check openai_api_key or OPENAI_API_KEY)" \
    "a wrong OpenAI key fails the check"

set_config "gemini_model = gemini-2.0-flash-preview-image-generation"
out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$(echo "$out" | head -1)" "1:gemini: FAILED: gemini_model gemini-2.0-flash-preview-image-generation is not in the model list: retired or misspelt" \
    "a retired model fails the check"
set_config "gemini_model = gemini-2.5-flash"
out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$(echo "$out" | head -1)" "1:gemini: FAILED: gemini_model gemini-2.5-flash is listed but is not an image model" \
    "a text model fails the check"
set_config "openai_model = gpt-image-9"
out=$(GEMINI_API_KEY= "$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$out" "1:gemini: FAILED: no key: set api_key or GEMINI_API_KEY
openai: FAILED: openai_model gpt-image-9 is not in the model list: retired, misspelt, or not open to this key" \
    "no key and an unknown OpenAI model: a line each"
is "$(sqlite3 "$T/imagegen.db" "SELECT count(*), sum(ok) FROM provider_checks")" "12|6" \
    "every provider's result is kept in provider_checks"

# The responder, restarted, says the last check failed.
kill "$IMAGEGEN_PID"; wait_exit "$IMAGEGEN_PID" 10 >/dev/null
rm -f "$T/imagegen.sock"
start_imagegen
check "the responder warns at start-up that the last check failed" \
    wait_for 10 grep -q "warn: check: the last .imagegen check. of provider openai failed: openai_model gpt-image-9 is not in the model list" "$T/imagegen.log"

# --generate: one real picture, from the first provider that passes.
sed -i '/^gemini_model\|^openai_model/d' "$T/imagegen.conf"
: > "$T/mock.log"
out=$("$IMAGEGEN" check --generate "$T/check.png" 2>&1); rc=$?
is "$rc" 0 "check --generate passes"
is "$(echo "$out" | tail -1 | sed 's/([0-9]* bytes)/(N bytes)/')" "gemini: generated $T/check.png (N bytes)" \
    "... and says where the picture went"
is "$(identify -format '%m %w %h' "$T/check.png" 2>/dev/null)" "PNG 1024 1024" \
    "... a real 1024x1024 picture"
is "$(jq -r .path "$T/mock.log" | grep -c generateContent)" 1 "... from one paid call"
"$IMAGEGEN" check --generate 2>/dev/null; rc=$?
is "$rc" 2 "--generate without a path is a usage error"

done_testing
