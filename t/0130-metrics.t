#!/bin/sh
# GET /api/metrics/image-generation: the store's figures in the Prometheus
# text format 0.0.4, or as JSON on Accept: application/json. Every figure
# comes from the database, so it is exact, and the same after a restart.
. "$(dirname "$0")/lib.sh"

M=/api/metrics/image-generation

# The reaper would resume the job this script makes stuck by hand: it runs
# once, at the first request, and not again within the script.
start_receiver
MOCK_ARGS="--latency 0.05 --hold $T/hold" start_stack "retry_attempts = 2" "retry_base = 100" \
    "reap_interval = 86400"

# The shipped server block sends the route to imagegen.
http GET $M
is "$CODE" 200 "the shipped server block routes $M"

metric() {	# metric NAME{LABELS}: its value in the last text body
	awk -v m="$1" '$1 == m { print $2 }' "$T/body"
}

# --- before any job: every series is there, at zero ------------------------
http GET $M
is "$CODE" 200 "an empty store answers 200"
for s in pending generating completed partial failed; do
	is "$(metric "imagegen_jobs{status=\"$s\"}")" 0 "imagegen_jobs{status=\"$s\"} is 0"
done
is "$(metric imagegen_image_success_ratio)/$(metric imagegen_image_failure_ratio)" 0/0 \
    "the ratios are 0 with no images"
is "$(metric imagegen_job_duration_seconds_count)" 0 "no job durations yet"

# --- two jobs: one with a failure and a retry, one with a webhook ----------
# case-a: ev-0 fails every time (2 attempts), ev-1 fails once then succeeds.
make_case case-a 3 2 "" ev-0=500 ev-1=500x1
make_case case-b 1 2 "$HOOK_URL"
post_json /api/generate-case-images "$T/case-a.json"
post_json /api/generate-case-images "$T/case-b.json"
check "case-a finishes" wait_final case-a 30
check "case-b finishes" wait_final case-b 30
delivered() {
	[ "$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM webhook_deliveries
	    WHERE status = 'pending' OR (event = 'final' AND status <> 'delivered')")" = 0 ] &&
	    [ "$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM webhook_deliveries WHERE event = 'final'")" = 1 ]
}
check "case-b's webhooks are all delivered" wait_for 15 delivered

# The API latency, seeded here rather than left to the worker: 5 at 0.7 s,
# 2 at 0.1 s, and one NULL, which the histogram skips.
sqlite3 "$T/imagegen.db" "UPDATE images SET api_ms = CASE
    WHEN case_id = 'case-a' THEN 700 WHEN item_id = 'loc-1' THEN NULL ELSE 100 END" ||
    bail "cannot seed api_ms"

http GET $M
cp "$T/body" "$T/metrics.txt"
is "$CODE" 200 "the metrics answer 200"
ct=$(header Content-Type)
case $ct in
text/plain*version=0.0.4*) ok 0 "Content-Type is text/plain, version 0.0.4 ($ct)" ;;
*) ok 1 "Content-Type is text/plain, version 0.0.4 ($ct)" ;;
esac
is "$(header Vary)" Accept "Vary: Accept, since JSON is also on offer"

is "$(metric 'imagegen_jobs{status="pending"}')" 0 "no job pending"
is "$(metric 'imagegen_jobs{status="generating"}')" 0 "no job generating"
is "$(metric 'imagegen_jobs{status="completed"}')" 1 "one job completed"
is "$(metric 'imagegen_jobs{status="partial"}')" 1 "one job partial"
is "$(metric 'imagegen_jobs{status="failed"}')" 0 "no job failed"
is "$(metric 'imagegen_images_total{result="completed"}')" 7 "7 images completed"
is "$(metric 'imagegen_images_total{result="failed"}')" 1 "1 image failed"
is "$(metric imagegen_image_success_ratio)" 0.875 "success ratio 7/8"
is "$(metric imagegen_image_failure_ratio)" 0.125 "failure ratio 1/8"
is "$(metric imagegen_image_retries_total)" 2 "2 retries: one per 500"
is "$(metric imagegen_job_duration_seconds_count)" 2 "2 job durations"
want=$(sqlite3 "$T/imagegen.db" "SELECT sum(completed_at - started_at) / 1000.0 FROM jobs")
got=$(metric imagegen_job_duration_seconds_sum)
check "the job duration sum is the store's ($got s = $want s)" \
    awk -v a="$got" -v b="$want" 'BEGIN { exit !(a + 0 == b + 0 && a > 0) }'
# How long the jobs took is the machine's business: the bucket must count
# those the store says took 5 s or less (both, on a quiet machine).
want=$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM jobs WHERE completed_at - started_at <= 5000")
is "$(metric 'imagegen_job_duration_seconds_bucket{le="5"}')" "$want" "the jobs that took 5 s or less ($want) are in le=5"

is "$(metric 'imagegen_image_api_latency_seconds_bucket{le="0.25"}')" 2 "2 API answers under 0.25 s"
is "$(metric 'imagegen_image_api_latency_seconds_bucket{le="0.5"}')" 2 "... still 2 under 0.5 s"
is "$(metric 'imagegen_image_api_latency_seconds_bucket{le="1"}')" 7 "7 under 1 s"
is "$(metric 'imagegen_image_api_latency_seconds_bucket{le="+Inf"}')" 7 "7 in all: the NULL is skipped"
is "$(metric imagegen_image_api_latency_seconds_sum)" 3.7 "the latencies sum to 3.7 s"

posts=$(wc -l < "$T/hook.log")
is "$(metric 'imagegen_webhook_deliveries_total{status="delivered"}')" "$posts" \
    "delivered webhooks: one per post received ($posts)"
check "... at least start and final" test "$posts" -ge 2
is "$(metric 'imagegen_webhook_deliveries_total{status="failed"}')" 0 "no webhook failed"
is "$(metric imagegen_webhook_deliveries_pending)" 0 "no webhook pending"
is "$(grep -c 'imagegen_webhook_deliveries_total{status="pending"}' "$T/body")" 0 \
    "... which is a gauge, not a counter's series: deliveries leave it as they land"
is "$(metric imagegen_webhook_delivery_latency_seconds_count)" "$posts" \
    "every delivered webhook has a latency"
is "$(metric imagegen_stuck_jobs)" 0 "no job is stuck"
is "$(metric imagegen_queued_jobs)" 0 "no job waits queued"

# --- the format itself --------------------------------------------------------
for f in "imagegen_jobs gauge" "imagegen_images_total counter" \
    "imagegen_image_success_ratio gauge" "imagegen_image_failure_ratio gauge" \
    "imagegen_image_retries_total counter" "imagegen_job_duration_seconds histogram" \
    "imagegen_image_api_latency_seconds histogram" \
    "imagegen_webhook_deliveries_total counter" \
    "imagegen_webhook_deliveries_pending gauge" \
    "imagegen_webhook_delivery_latency_seconds histogram" "imagegen_stuck_jobs gauge" \
    "imagegen_queued_jobs gauge" "imagegen_provider_images_total counter" \
    "imagegen_provider_tokens_total counter" \
    "imagegen_provider_estimated_cost_usd_total counter" \
    "imagegen_image_attempts_interrupted_total counter" \
    "imagegen_model_images_total counter" \
    "imagegen_model_retirement_timestamp_seconds gauge" "imagegen_model_retired gauge"; do
	check "# TYPE $f" grep -qxF "# TYPE $f" "$T/metrics.txt"
done
is "$(grep -c '^# TYPE ' "$T/metrics.txt")" 19 "19 metric families, no more"
is "$(grep -c '^# HELP ' "$T/metrics.txt")" 19 "each with a HELP line"

# Every line is a HELP or TYPE comment or "name{labels} value" / "name value",
# and every sample belongs to a family typed before it.
bad=$(awk '
/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* ./ { next }
/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram)$/ { type[$3] = $4; next }
!/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9][0-9.e+-]*$/ {
	print "malformed: " $0; next
}
{
	n = $1; sub(/\{.*/, "", n); base = n; sub(/_(bucket|sum|count)$/, "", base)
	if (!(n in type) && type[base] != "histogram") print "untyped: " $0
}' "$T/metrics.txt")
is "$bad" "" "every line parses, and every sample has a TYPE"

# Histograms: bounds rising, counts never falling, +Inf equal to _count.
for h in imagegen_job_duration_seconds imagegen_image_api_latency_seconds \
    imagegen_webhook_delivery_latency_seconds; do
	err=$(awk -v h="$h" '
	index($0, h "_bucket{le=\"") == 1 {
		le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
		if (seen && $2 < last) print "falls at le=" le
		if (le == "+Inf") inf = $2
		else if (seen && le + 0 <= lastle) print "bound " le " out of order"
		else lastle = le + 0
		last = $2; seen = 1
	}
	$1 == h "_count" { count = $2 }
	END { if (inf == "" || inf != count) print "+Inf " inf " != count " count }
	' "$T/metrics.txt")
	is "$err" "" "$h: cumulative buckets, +Inf == _count"
done

check "no line carries the API key" sh -c "! grep -qF '$API_KEY' '$T/metrics.txt'"

# --- JSON ------------------------------------------------------------------
http GET $M -H 'Accept: text/html, application/json;q=0.9'
is "$CODE" 200 "Accept: application/json answers 200"
case $(header Content-Type) in
application/json*) ok 0 "... as application/json" ;;
*) ok 1 "... as application/json ($(header Content-Type))" ;;
esac
is "$(jsonc .jobs)" '{"pending":0,"generating":0,"completed":1,"partial":1,"failed":0}' \
    "jobs by status, all five"
is "$(jsonc .images)" \
    '{"completed":7,"failed":1,"successRatio":0.875,"failureRatio":0.125,"retries":2,"interrupted":0}' \
    "images: counts, ratios, retries"
jcheck "job durations: count 2, +Inf == count" \
    '.jobDurationSeconds.count == 2 and .jobDurationSeconds.buckets["+Inf"] == 2'
is "$(jsonc '.jobDurationSeconds.buckets | keys_unsorted')" \
    '["5","10","30","60","120","300","600","+Inf"]' "job duration buckets in order"
is "$(jsonc .imageApiLatencySeconds)" \
    '{"buckets":{"0.25":2,"0.5":2,"1":7,"2":7,"5":7,"10":7,"30":7,"60":7,"+Inf":7},"sum":3.7,"count":7}' \
    "the image API latency histogram"
jcheck "webhooks: delivered == posts received, none failed or pending" \
    ".webhooks.delivered == $posts and .webhooks.failed == 0 and .webhooks.pending == 0"
jcheck "webhook latency: count == delivered, cumulative" \
    '.webhooks.latencySeconds as $h | $h.count == .webhooks.delivered and
     $h.buckets["+Inf"] == $h.count and ([$h.buckets[]] | . == sort)'
jcheck "stuckJobs is 0" '.stuckJobs == 0'
is "$(jq -c 'keys_unsorted' "$T/body")" \
    '["jobs","images","jobDurationSeconds","imageApiLatencySeconds","webhooks","stuckJobs","queuedJobs","providers","models"]' \
    "exactly the documented top-level keys"
check "the JSON does not carry the API key" sh -c "! grep -qF '$API_KEY' '$T/body'"
http GET $M -H 'Accept: application/json;q=0, text/plain'
case $(header Content-Type) in
text/plain*) ok 0 "application/json;q=0 gets the text format" ;;
*) ok 1 "application/json;q=0 gets the text format" ;;
esac

# --- HEAD and other methods ------------------------------------------------
# curl -X HEAD would wait out its timeout for the body Content-Length
# announces: read the raw answer, to its close, instead.
"$PYTHON3" - "$PORT" "$M" > "$T/head.raw" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(("HEAD %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
           % sys.argv[2]).encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.buffer.write(data)
PY
sed -n '1,/^\r$/p' "$T/head.raw" | tr -d '\r' > "$T/headers"
is "$(head -1 "$T/headers" | cut -d' ' -f2)" 200 "HEAD is answered"
is "$(sed '1,/^\r$/d' "$T/head.raw" | wc -c | tr -d ' ')" 0 "... with no body"
case $(header Content-Type) in
text/plain*) ok 0 "... and the text Content-Type" ;;
*) ok 1 "... and the text Content-Type" ;;
esac
is "$(header Content-Length)" "$(wc -c < "$T/metrics.txt" | tr -d ' ')" \
    "... and the Content-Length of the GET's body"
http POST $M -H 'Content-Type: application/json' --data-binary '{}'
is "$CODE" 405 "POST is 405"
is "$(header Allow)" "GET, HEAD" "... with Allow: GET, HEAD"

# --- a retry: no counter falls ---------------------------------------------
# case-a ended partial, ev-0 failed after 2 attempts; a retry sets ev-0 back
# to pending, and it fails twice again. Prometheus takes a counter that
# falls for a reset.
counters() {	# the counter and histogram series of the last text body
	grep -E '^imagegen_[a-z_]*(_total|_bucket|_sum|_count)[{ ]' "$T/body"
}
fallen() {	# fallen OLD NEW: the series of OLD that are lower, or gone, in NEW
	awk 'NR == FNR { v[$1] = $2; next }
	$1 in v { if ($2 + 0 < v[$1] + 0) print $1 " fell from " v[$1] " to " $2; delete v[$1] }
	END { for (k in v) print k " is gone" }' "$1" "$2"
}
# The mock holds the new run's request until the figures are read: under
# load, the new run's first failure must not land before the GET.
http GET $M
counters > "$T/c0"
: > "$T/hold"
http POST /api/case-images/case-a/retry
is "$CODE" 202 "case-a's failed image is retried"
http GET $M
counters > "$T/c1"
is "$(fallen "$T/c0" "$T/c1")" "" "while it runs again, no counter series has fallen"
is "$(metric 'imagegen_images_total{result="failed"}')/$(metric imagegen_image_retries_total)" 1/2 \
    "... the replaced failure and its retry still count"
rm -f "$T/hold"
check "case-a's new run ends" wait_final case-a 30
http GET $M
counters > "$T/c2"
is "$(fallen "$T/c1" "$T/c2")" "" "once it ends again, no counter series has fallen"
is "$(metric 'imagegen_images_total{result="failed"}')" 2 "2 failures: the replaced one and the new one"
is "$(metric imagegen_image_retries_total)" 3 "3 retries: one more in the new run"
is "$(metric imagegen_job_duration_seconds_count)" 3 "3 job durations: case-a's two runs and case-b's"
is "$(sqlite3 "$T/imagegen.db" "SELECT run, status, last_error LIKE 'ev-0:%' FROM past_runs
    WHERE case_id = 'case-a'")" "0|partial|1" "past_runs keeps case-a's first run, and why it failed"
is "$(sqlite3 "$T/imagegen.db" "SELECT item_id, run, attempts, api_ms, replaced_by
    FROM past_failures")" "ev-0|0|2|700|pending" "past_failures keeps ev-0's first failure"
is "$(sqlite3 "$T/imagegen.db" "SELECT retry_count, status, started_at > (SELECT completed_at
    FROM past_runs) FROM jobs WHERE case_id = 'case-a'")" "1|partial|1" \
    "the new run has its own start"

# --- stuck jobs, and a restart ---------------------------------------------
old=$(($(date +%s) * 1000 - 700000))
sqlite3 "$T/imagegen.db" "UPDATE jobs SET status = 'generating', started_at = $old,
    completed_at = NULL WHERE case_id = 'case-b'" || bail "cannot make case-b stuck"
http GET $M
is "$(metric imagegen_stuck_jobs)" 1 "a job generating for 700 s is stuck (stuck_after 600)"
is "$(metric 'imagegen_jobs{status="generating"}')" 1 "... and counted as generating"
is "$(metric imagegen_job_duration_seconds_count)" 3 \
    "... and its finished run, kept in past_runs, still counts"
grep -v '^imagegen_stuck_jobs ' "$T/body" > "$T/before.txt"

set_config "stuck_after = 1000"
kill "$IMAGEGEN_PID"; wait_for 5 sh -c "! kill -0 $IMAGEGEN_PID"; rm -f "$T/imagegen.sock"
start_imagegen
http GET $M
is "$CODE" 200 "a restarted responder answers"
is "$(metric imagegen_stuck_jobs)" 0 "with stuck_after = 1000 the job is not stuck"
grep -v '^imagegen_stuck_jobs ' "$T/body" > "$T/after.txt"
check "every other figure survives the restart" cmp -s "$T/before.txt" "$T/after.txt"

done_testing
