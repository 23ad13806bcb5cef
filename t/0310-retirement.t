#!/bin/sh
# Retirement seen before it happens. Gemini's answers announce it
# (modelStatus: modelStage, retirementTime), OpenAI's model list gives a
# shutdown_date: each is kept per model. A model 10 days from retirement
# makes imagegen check exit 1 naming the date and the setting; the metric
# carries the date and promtool shows the alert firing on it; the reaper's
# daily check logs it once a day, not at every sweep. A retirement 40 days
# away is no problem yet.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || bail "promtool is missing (deps.sh installs prometheus)"
DAY10=$(date -u -d '+10 days' +%F)
DAY40=$(date -u -d '+40 days' +%F)

# 1. Gemini: the answers announce it.
MOCK_ARGS="--model-status gemini-nano-banana-2.1=DEPRECATED@${DAY10}T00:00:00Z" start_stack \
    "check_interval = 86400"
run_case case-a 2 1
is "$(status_models)" \
    "completed gemini-nano-banana-2.1" "... made by the deprecated model: it still works"
when=$(date -u -d "$DAY10" +%s)
is "$(sqlite3 "$T/imagegen.db" "SELECT stage, retires_at / 1000 FROM models WHERE model = 'gemini-nano-banana-2.1'")" \
    "DEPRECATED|$when" "the announced stage and retirement are kept"
check "the worker logs what was announced" \
    grep -q "warn: case case-a: gemini model gemini-nano-banana-2.1 is DEPRECATED, retiring as announced" "$T/imagegen.log"

out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc" 1 "imagegen check exits 1 for a model 10 days from retirement"
is "$(echo "$out" | head -1)" \
    "gemini gemini-nano-banana-2.1: FAILED: listed, makes images; DEPRECATED, retires on $DAY10 (in 10 days): change gemini_model before then" \
    "... naming the date and the setting to change"

http GET /api/metrics/image-generation
cp "$T/body" "$T/metrics.txt"
line="imagegen_model_retirement_timestamp_seconds{provider=\"gemini\",model=\"gemini-nano-banana-2.1\"} $when"
check "the metric carries the date ($when)" grep -qxF "$line" "$T/metrics.txt"
check "... and the model is not marked retired" grep -qxF \
    'imagegen_model_retired{provider="gemini",model="gemini-nano-banana-2.1"} 0' "$T/metrics.txt"
http GET /api/metrics/image-generation -H 'Accept: application/json'
jcheck "the JSON figures have it" \
    ".models[\"gemini/gemini-nano-banana-2.1\"].retirementTimestampSeconds == $when and
     .models[\"gemini/gemini-nano-banana-2.1\"].configured and
     (.models[\"gemini/gemini-3.1-flash-lite-image\"].retirementTimestampSeconds == null)"

# promtool: the rules on these very series. Its clock starts at 0, so the
# series carry the time left from now; at 1m the alert fires for this model,
# saying what humanizeDuration makes of the time left then.
left=$(( when - $(date +%s) ))
d=$(( (left - 60) / 86400 )) h=$(( (left - 60) % 86400 / 3600 ))
m=$(( (left - 60) % 3600 / 60 )) s=$(( (left - 60) % 60 ))
cp "$top_srcdir/etc/prometheus/imagegen-rules.yml" "$T/"
cat > "$T/retiring.test.yml" <<-YML
rule_files:
  - imagegen-rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'imagegen_model_retirement_timestamp_seconds{instance="t",provider="gemini",model="gemini-nano-banana-2.1"}'
        values: '${left}x5'
      - series: 'imagegen_model_retired{instance="t",provider="gemini",model="gemini-nano-banana-2.1"}'
        values: '0x5'
    alert_rule_test:
      - eval_time: 1m
        alertname: ImagegenModelRetiring
        exp_alerts:
          - exp_labels:
              severity: warning
              instance: t
              provider: gemini
              model: gemini-nano-banana-2.1
            exp_annotations:
              summary: "imagegen: gemini model gemini-nano-banana-2.1 retires in ${d}d ${h}h ${m}m ${s}s"
              description: "imagegen check names the date and the setting to change (gemini_model or openai_model); imagegen.conf(5) says how to choose a replacement."
      - eval_time: 1m
        alertname: ImagegenModelRetired
        exp_alerts: []
YML
out=$(cd "$T" && promtool test rules retiring.test.yml 2>&1)
is "$?" 0 "promtool test rules: ImagegenModelRetiring fires for it"
[ "$?" -eq 0 ] || echo "$out" | sed 's/^/# /'

# 2. The reaper's daily check: logged once, and not again at the next sweep.
# The responder's own first sweep ran it before the case announced anything.
sqlite3 "$T/imagegen.db" "DELETE FROM maintenance WHERE name = 'check:gemini'" ||
    bail "cannot reset the check's lease"
"$IMAGEGEN" reap > /dev/null 2>&1
"$IMAGEGEN" reap > /dev/null 2>&1
is "$(grep -c "warn: check: gemini model gemini-nano-banana-2.1: .*retires on $DAY10 (in 10 days): change gemini_model before then" "$T/imagegen.log")" \
    1 "the reaper's daily check logs it, once for two sweeps"
is "$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM maintenance WHERE name = 'check:gemini'")" 1 \
    "... at most once a day per provider (the maintenance lease)"

# 3. OpenAI: the list's shutdown_date.
MOCK_ARGS="--shutdown gpt-image-2.6-sunburst=$DAY10 --shutdown gpt-image-2.6-flare=$DAY40" \
    restart_stack "provider = openai"
out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc:$out" "1:openai gpt-image-2.6-sunburst: FAILED: listed; retires on $DAY10 (in 10 days): change openai_model before then
openai gpt-image-2.6-flare: ok: listed; retires on $DAY40" \
    "OpenAI's shutdown_date: 10 days is a problem, 40 days not yet"
is "$(sqlite3 "$T/imagegen.db" "SELECT date(retires_at / 1000, 'unixepoch') FROM models WHERE model = 'gpt-image-2.6-sunburst'")" \
    "$DAY10" "... and kept for the metrics"

# 4. Nothing announced within 30 days: check passes.
MOCK_ARGS="--shutdown gpt-image-2.6-sunburst=$DAY40" restart_stack "provider = openai"
sqlite3 "$T/imagegen.db" "DELETE FROM models" || bail "cannot clear the models"
out=$("$IMAGEGEN" check 2>&1); rc=$?
is "$rc" 0 "a retirement 40 days away passes the check ($out)"

done_testing
