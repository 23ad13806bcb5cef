#!/bin/sh
# Crash-safe attempts: a request cut short by its worker's death got no
# answer, so it does not count against retry_attempts; it is counted apart
# (interrupted), in `imagegen show` and the metrics. Here each image's
# worker is killed twice mid-request, and only then do the transient
# faults come: a 500 once, a 503 twice. With retry_attempts = 3 the kills
# used to leave no budget for them, and the case ended partial.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 3" start_stack "retry_attempts = 3" "retry_base = 200" \
    "retry_cap = 400" "reap_interval = 86400"
q() { db "$1"; }
make_case case-int 1 1 "" ev-0=500x1 loc-0=503x2
post_json /api/generate-case-images "$T/case-int.json"
is "$CODE" 202 "generate answers 202"

# Both requests out under a live worker, sent after the last kill (the
# killed worker's rows say generating too): its pid, or nothing yet.
both_out() {
	pid=$(q "SELECT worker_pid FROM jobs WHERE case_id = 'case-int' AND status = 'generating'
	    AND (SELECT count(*) FROM images WHERE case_id = 'case-int' AND status = 'generating'
	    AND started_at > $2) = 2")
	[ -n "$pid" ] && [ "$pid" != "$1" ] && kill -0 "$pid"
}
last=0 killed_ms=0
for k in 1 2; do
	check "kill $k: both requests are out" wait_for 20 both_out "$last" "$killed_ms"
	kill -9 "$pid"
	wait_for 10 exited "$pid"
	last=$pid killed_ms=$(($(date +%s%N) / 1000000))
	is "$("$IMAGEGEN" reap | cut -d, -f1)" "1 job resumed" "kill $k: imagegen reap resumes the job"
done
check "the case finishes" wait_final case-int 60
is "$(job_status case-int)" completed "it completes: the kills spent none of the retries"
is "$(q "SELECT item_id || ' ' || attempts || ' ' || interrupted FROM images WHERE case_id = 'case-int' ORDER BY position" | tr '\n' ',')" \
    "ev-0 2 2,loc-0 3 2," "attempts count the answers (500 then 200; 503, 503, 200), interrupted the kills"
answers() { jq -r --arg d "$1" 'select((.prompt // "") | contains($d)) | select(.client_gone != true) | .status' "$T/mock.log" | tr '\n' ' '; }
is "$(answers 'Evidence number 0')" "500 200 " "the image API answered ev-0 twice: 500, then the picture"
is "$(answers 'Location number 0')" "503 503 200 " "... and loc-0 three times"
"$IMAGEGEN" show case-int > "$T/show"
is "$(awk '$1 == "ITEM" { print $4, $5 } $1 == "ev-0" || $1 == "loc-0" { print $4, $5 }' "$T/show" | tr '\n' ',')" \
    "ATTEMPTS INTERRUPTED,2 2,3 2," "imagegen show has both columns"
http GET /api/metrics/image-generation
is "$(grep '^imagegen_image_attempts_interrupted_total ' "$T/body" | cut -d' ' -f2)" 4 \
    "imagegen_image_attempts_interrupted_total counts the 4"
is "$(grep '^imagegen_image_retries_total ' "$T/body" | cut -d' ' -f2)" 3 \
    "imagegen_image_retries_total counts only the answered retries"
check "the log says why the attempt was not counted" \
    grep -q 'case-int: image ev-0: attempt interrupted by the worker.s death' "$T/imagegen.log"

done_testing
