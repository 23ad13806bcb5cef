#!/bin/sh
# etc/prometheus/imagegen-rules.yml: the reference design's three alerts
# (failure rate over 50%, stuck jobs, webhook failures) and the two on the
# models' retirement (retiring within 30 days, retired) pass promtool's
# check and its unit tests, and every series they read is one imagegen's
# metrics route serves, with the labels the rules match on.
. "$(dirname "$0")/lib.sh"

R=$top_srcdir/etc/prometheus
command -v promtool >/dev/null || bail "promtool is missing (deps.sh installs prometheus)"

out=$(promtool check rules "$R/imagegen-rules.yml" 2>&1)
is "$?" 0 "promtool check rules: $(echo "$out" | sed -n 's/^ *SUCCESS: //p')"
is "$(grep -c '^ *- alert: ' "$R/imagegen-rules.yml")" 5 "five alerts"
cp "$R/imagegen-rules.yml" "$R/imagegen-rules.test.yml" "$T/"
out=$(cd "$T" && promtool test rules imagegen-rules.test.yml 2>&1)
is "$?" 0 "promtool test rules: each alert fires when it should, and only then"
[ "$?" -eq 0 ] || echo "$out" | sed 's/^/# /'

# Broken on purpose, the unit tests notice: a threshold of 90% would not
# fire for 80% failures.
sed 's/ > 0.5$/ > 0.9/' "$R/imagegen-rules.yml" > "$T/imagegen-rules.yml"
check "... and fail when the failure threshold is wrong" \
    sh -c "cd '$T' && ! promtool test rules imagegen-rules.test.yml >/dev/null 2>&1"

# ... and when a retired model would fire ImagegenModelRetiring too.
sed 's/^ *unless on (instance, provider, model) imagegen_model_retired == 1$//' \
    "$R/imagegen-rules.yml" > "$T/imagegen-rules.yml"
check "... and when a retired model is not kept out of the retiring alert" \
    sh -c "cd '$T' && ! promtool test rules imagegen-rules.test.yml >/dev/null 2>&1"

# The series the rules read, in what the metrics route serves: a configured
# model with an announced retirement has its timestamp.
start_stack
sqlite3 "$T/imagegen.db" "INSERT INTO models (provider, model, retires_at, updated_at)
    VALUES ('gemini', 'gemini-nano-banana-2.1', 1800000000000, 1)" || bail "cannot seed models"
http GET /api/metrics/image-generation
is "$CODE" 200 "the metrics route answers"
for m in $(grep -o 'imagegen_[a-z_]*' "$R/imagegen-rules.yml" | sort -u); do
	check "imagegen serves $m" grep -q "^$m[ {]" "$T/body"
done
check 'imagegen_images_total has result="failed"' grep -q '^imagegen_images_total{result="failed"}' "$T/body"
check 'imagegen_webhook_deliveries_total has status="failed"' \
    grep -q '^imagegen_webhook_deliveries_total{status="failed"}' "$T/body"
check "imagegen_images_total is a counter, as increase() wants" \
    grep -q '^# TYPE imagegen_images_total counter' "$T/body"

done_testing
