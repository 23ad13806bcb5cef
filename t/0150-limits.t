#!/bin/sh
# Limits across jobs: 20 cases submitted at once (280 images) share the
# host-wide cap on requests in flight and the rate limit per minute. The
# mock records its peak concurrency and every request's time.
. "$(dirname "$0")/lib.sh"

CAP=8 RATE=200
MOCK_ARGS="--latency 0.4 --size 256" start_stack "max_inflight = $CAP" "rate_limit = $RATE" \
    "job_deadline = 600"
t0=$(date +%s)
i=1 curls=
while [ $i -le 20 ]; do
	make_case case-many-$i 10 4
	curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' -H "Authorization: Bearer $API_TOKEN" \
	    --data-binary "@$T/case-many-$i.json" "$BASE/api/generate-case-images" >> "$T/codes" &
	curls="$curls $!"
	i=$((i + 1))
done
wait $curls
is "$(sort -u "$T/codes")" 202 "20 cases accepted at once"
all_final() {
	[ "$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM jobs WHERE status IN ('completed', 'partial', 'failed')")" = 20 ]
}
check "all 20 jobs finish" wait_for 240 all_final
el=$(( $(date +%s) - t0 ))
is "$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM jobs WHERE status = 'completed'")" 20 "all 20 completed"
is "$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM images WHERE status = 'completed'")" 280 "all 280 images completed"
is "$(find "$T/media" -name '*.jpg' | wc -l)" 280 "280 files"

peak=$(curl -s "$(cat "$T/mock.port" | sed 's/^/http:\/\/127.0.0.1:/')/_stats" | jq .peak_inflight)
check "peak concurrency at the mock: $peak, cap $CAP" test "$peak" -le $CAP
check "... and the cap was reached, so it was the limiter that held it ($peak)" test "$peak" -ge $((CAP - 1))
# The most requests that started in any 60 s window.
jq -c 'select(.path | endswith(":generateContent"))' "$T/mock.log" > "$T/predict.log"
most=$(jq -r .t_start "$T/predict.log" | sort -n | awk '{t[NR] = $1} END {
	j = 1; m = 0
	for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= 60) j++; if (i - j + 1 > m) m = i - j + 1 }
	print m }')
check "most requests in any 60 s window: $most, limit $RATE" test "$most" -le $RATE
check "the rate limit held the last $((280 - RATE)) back a minute ($el s)" test "$el" -ge 60
per_min=$(jq -r '.t_start | floor / 60 | floor' "$T/predict.log" | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')
diag "requests per calendar minute at the mock: $per_min; peak in flight $peak; $el s for 280 images"
is "$(wc -l < "$T/predict.log")" 280 "one request per image"

done_testing
