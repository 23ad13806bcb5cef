#!/bin/sh
# gemini_model and openai_model are ordered lists. A first model the
# provider says is gone (Gemini's 404, OpenAI's model_not_found in a 400,
# a text model's 400 for an image) costs no image: the case completes on
# the second model of the same provider, no image is asked twice of the
# dead one, it is marked retired in the store with the time and the
# provider's words, and the next case makes no call to it at all, in
# another worker. The status, imagegen show and the metrics name the model
# of each image; imagegen check clears a model its provider lists again.
. "$(dirname "$0")/lib.sh"

calls_to() { jq -r --arg m "$1" 'select(.model == $m) | .prompt' "$T/mock.log" | wc -l; }
twice_to() { jq -r --arg m "$1" 'select(.model == $m) | .prompt' "$T/mock.log" | sort | uniq -d | wc -l; }

# 1. Gemini: the first model is gone (404).
start_stack "gemini_model = gemini-2.5-flash-image gemini-nano-banana-2.1" \
    "retry_base = 30000" "retry_cap = 30000"
run_case case-a 10 4
is "$(json .status)" completed "a retired first model costs no image: the case completes"
is "$(json '[.images[] | .provider + "/" + .model] | unique | join(",")')" \
    "gemini/gemini-nano-banana-2.1" "... every image made by the second model of the list"
n=$(calls_to gemini-2.5-flash-image)
check "... the dead model asked at most once per request in flight ($n, concurrency 5)" \
    test "$n" -ge 1 -a "$n" -le 5
is "$(twice_to gemini-2.5-flash-image)" 0 "... and no image asked twice of it"
ms=$(job_ms case-a)
check "... at once, before any backoff ($ms ms < 15000)" test -n "$ms" -a "${ms:-x}" -lt 15000
is "$(sqlite3 "$T/imagegen.db" "SELECT provider, model, retired_kind, retired_at > 0,
    retired_reason LIKE 'HTTP 404: models/gemini-2.5-flash-image is not found%(check gemini_model%'
    FROM models WHERE retired_at IS NOT NULL")" "gemini|gemini-2.5-flash-image|retired|1|1" \
    "it is marked retired in the store, with the time and the provider's words"
"$IMAGEGEN" show case-a > "$T/show"
is "$(awk '$1 ~ /^(ev|loc)-/ { print $6, $7 }' "$T/show" | sort -u)" \
    "gemini gemini-nano-banana-2.1" "imagegen show names each image's model"
check "the log names the model and the setting, once" \
    sh -c "test \$(grep -c 'gemini model gemini-2.5-flash-image: HTTP 404.*check gemini_model.*no more requests to it' '$T/imagegen.log') -eq 1"

: > "$T/mock.log"
run_case case-b 10 4
is "$(json .status)" completed "the next case completes"
is "$(calls_to gemini-2.5-flash-image)" 0 "... and makes no call to the retired model at all"
is "$(calls_to gemini-nano-banana-2.1)" 14 "... every image asked of the second, once"

http GET /api/metrics/image-generation
check "metrics: images by model" grep -qx \
    'imagegen_model_images_total{provider="gemini",model="gemini-nano-banana-2.1",result="completed"} 28' "$T/body"
check "metrics: the retired model is 1" grep -qx \
    'imagegen_model_retired{provider="gemini",model="gemini-2.5-flash-image"} 1' "$T/body"
check "... the other 0" grep -qx \
    'imagegen_model_retired{provider="gemini",model="gemini-nano-banana-2.1"} 0' "$T/body"
want=$(sqlite3 "$T/imagegen.db" "SELECT retired_at / 1000 FROM models WHERE model = 'gemini-2.5-flash-image'")
check "metrics: its retirement time is when it was found gone ($want)" grep -qx \
    "imagegen_model_retirement_timestamp_seconds{provider=\"gemini\",model=\"gemini-2.5-flash-image\"} $want" "$T/body"

# imagegen check: the list does not name it; a model the list names again is cleared.
out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$(echo "$out" | head -1 | cut -c1-90)" \
    "1:gemini gemini-2.5-flash-image: FAILED: not in the model list: retired, misspelt, or not op" \
    "imagegen check: the retired first model is a problem"
sqlite3 "$T/imagegen.db" "INSERT INTO models (provider, model, retired_at, retired_kind,
    retired_reason, updated_at) VALUES ('gemini', 'gemini-nano-banana-2.1', 1, 'retired',
    'HTTP 404 (by hand)', 1)" || bail "cannot mark a model retired"
: > "$T/mock.log"
run_case case-c 10 4
is "$(json .status)" failed "every model of the list marked retired: the job fails"
check "... each image's error keeps each model's reason, in order" sh -c "jq -r '.images[0].error' '$T/body' |
    grep -q '^gemini/gemini-2.5-flash-image: gemini_model gemini-2.5-flash-image, marked retired by the store: HTTP 404.*; gemini/gemini-nano-banana-2.1: gemini_model gemini-nano-banana-2.1, marked retired by the store: HTTP 404 (by hand)$'"
is "$(wc -l < "$T/mock.log")" 0 "... no call at all"
out=$("$IMAGEGEN" check 2>&1)
check "imagegen check clears a model its provider lists again" \
    sh -c "echo '$out' | grep -q '^gemini gemini-nano-banana-2.1: ok: listed, makes images; marked retired on 1970-01-01, listed again: cleared'"
is "$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM models WHERE model = 'gemini-nano-banana-2.1' AND retired_at IS NOT NULL")" \
    0 "... in the store"

# 2. A text model asked for an image (400): no images from it, for good.
restart_stack "gemini_model = gemini-3.8-flash gemini-3.1-flash-lite-image"
run_case case-text 10 4
is "$(status_models)" \
    "completed gemini-3.1-flash-lite-image" "a text model gives way to the next model"
is "$(sqlite3 "$T/imagegen.db" "SELECT retired_kind FROM models WHERE model = 'gemini-3.8-flash'")" \
    no-images "... marked: it makes no images"

# 3. OpenAI: model_not_found in a 400.
MOCK_ARGS="--retired gpt-image-2.6-sunburst=400" restart_stack "provider = openai" \
    "openai_model = gpt-image-2.6-sunburst gpt-image-2.6-flare"
run_case case-o 10 4
is "$(json '.status + " " + ([.images[] | .provider + "/" + .model] | unique | join(","))')" \
    "completed openai/gpt-image-2.6-flare" "an OpenAI 400 model_not_found: the second model makes the case"
n=$(calls_to gpt-image-2.6-sunburst)
check "... the dead model asked at most once per request in flight ($n)" test "$n" -le 5
is "$(twice_to gpt-image-2.6-sunburst)" 0 "... and no image twice"
is "$(sqlite3 "$T/imagegen.db" "SELECT retired_reason FROM models WHERE model = 'gpt-image-2.6-sunburst'")" \
    "HTTP 400: The model \`gpt-image-2.6-sunburst\` does not exist or you do not have access to it. (check openai_model: gpt-image-2.6-sunburst is retired or misspelt)" \
    "... marked retired with OpenAI's words and the setting"

# 4. Gemini's modelStage RETIRED in an answer: that picture is kept, the model is passed by next.
MOCK_ARGS="--model-status gemini-nano-banana-2.1=RETIRED" restart_stack
run_case case-r 1 1
is "$(status_models)" \
    "completed gemini-nano-banana-2.1" "the pictures of answers saying RETIRED are kept"
: > "$T/mock.log"
run_case case-r2 10 4
is "$(status_models)" \
    "completed gemini-3.1-flash-lite-image" \
    "an answer saying modelStage RETIRED: later images go to the next model"
is "$(calls_to gemini-nano-banana-2.1)" 0 "... with no call to the retired one"

done_testing
