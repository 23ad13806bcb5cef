#!/bin/sh
# imagegen check against the mock's model lists: good keys and models
# pass, each model on a line of its own; a wrong key, a retired model, a
# text model (judged by what the list says of it, never by its name) and a
# missing key each get one line that says what to fix, and exit 1.
# --generate makes one real picture. The FastCGI responder warns at
# start-up when the last check of a model failed, or none was run.
. "$(dirname "$0")/lib.sh"

start_mock
write_config "providers = gemini openai"
start_imagegen
check "the responder warns that no check was ever run" \
    wait_for 10 grep -q "warn: check: .imagegen check. was never run for gemini model gemini-nano-banana-2.1" "$T/imagegen.log"

out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc" 0 "check passes with good keys and today's models"
is "$out" "gemini gemini-nano-banana-2.1: ok: listed, makes images; no retirement announced
gemini gemini-3.1-flash-lite-image: ok: listed, makes images; no retirement announced
openai gpt-image-2.6-sunburst: ok: listed; no retirement announced
openai gpt-image-2.6-flare: ok: listed; no retirement announced" \
    "... one line per model: gemini-nano-banana-2.1 passes, though its name says no image"
is "$(jq -r .path "$T/mock.log" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" \
    "/v1/models=1 /v1beta/models=1 " "... asking each provider's free model list once"
is "$(jq -r 'select(.path == "/v1beta/models") | .query + " " + .headers["x-goog-api-key"]' "$T/mock.log")" \
    "pageSize=1000 $API_KEY" "the Gemini list is asked for whole, with the key in its header"

out=$(GEMINI_API_KEY=wrong "$IMAGEGEN" check 2>&1); rc=$?
is "$rc" 1 "a wrong Gemini key fails the check"
is "$(echo "$out" | head -1)" "gemini gemini-nano-banana-2.1: FAILED: the model list: HTTP 400: API key not valid. Please pass a valid API key. (check api_key or GEMINI_API_KEY)" \
    "... naming the key's settings"
check "... and never the key" sh -c "! echo '$out' | grep -q wrong"

out=$(OPENAI_API_KEY=sk-bad "$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$(echo "$out" | tail -1)" "1:openai gpt-image-2.6-flare: FAILED: the model list: HTTP 401: Incorrect API key provided. (check openai_api_key or OPENAI_API_KEY)" \
    "a wrong OpenAI key fails the check"

set_config "gemini_model = gemini-2.5-flash-image"
out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$(echo "$out" | head -1)" "1:gemini gemini-2.5-flash-image: FAILED: not in the model list: retired, misspelt, or not open to this key (change gemini_model)" \
    "a retired model fails the check, naming the setting"
set_config "gemini_model = gemini-3.8-flash"
out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$(echo "$out" | head -1)" "1:gemini gemini-3.8-flash: FAILED: listed, but the list does not say it makes images and it has made none here (change gemini_model); no retirement announced" \
    "a text model fails the check"
set_config "gemini_model = gemini-embedding-2"
out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$(echo "$out" | head -1)" "1:gemini gemini-embedding-2: FAILED: listed, but it takes no generateContent (change gemini_model); no retirement announced" \
    "a model without generateContent fails the check"
set_config "openai_model = gpt-image-9"
out=$(GEMINI_API_KEY= "$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$out" "1:gemini gemini-embedding-2: FAILED: no key: set api_key or GEMINI_API_KEY
openai gpt-image-9: FAILED: not in the model list: retired, misspelt, or not open to this key (change openai_model)" \
    "no key and an unknown OpenAI model: a line each"
is "$(sqlite3 "$T/imagegen.db" "SELECT count(*), sum(ok) FROM provider_checks")" "23|14" \
    "every model's result is kept in provider_checks"

# The responder, restarted, says the last check failed.
kill "$IMAGEGEN_PID"; wait_exit "$IMAGEGEN_PID" 10 >/dev/null
rm -f "$T/imagegen.sock"
start_imagegen
check "the responder warns at start-up that the last check failed" \
    wait_for 10 grep -q "warn: check: the last .imagegen check. of openai model gpt-image-9 failed: not in the model list" "$T/imagegen.log"

# --generate: one real picture, from the first model that passes.
sed -i '/^gemini_model\|^openai_model/d' "$T/imagegen.conf"
: > "$T/mock.log"
out=$("$IMAGEGEN" check --generate "$T/check.png" 2>&1); rc=$?
is "$rc" 0 "check --generate passes"
is "$(echo "$out" | tail -1 | sed 's/([0-9]* bytes)/(N bytes)/')" "gemini gemini-nano-banana-2.1: generated $T/check.png (N bytes)" \
    "... and says where the picture went"
is "$(identify -format '%m %w %h' "$T/check.png" 2>/dev/null)" "PNG 1024 1024" \
    "... a real 1024x1024 picture"
is "$(jq -r .path "$T/mock.log" | grep -c generateContent)" 1 "... from one paid call"
"$IMAGEGEN" check --generate 2>/dev/null; rc=$?
is "$rc" 2 "--generate without a path is a usage error"

done_testing
