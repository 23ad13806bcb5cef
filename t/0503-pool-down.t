#!/bin/sh
# The pool of worker hosts is down: nginx answers 502 for the upstream.
# generate still answers 202, and the job waits queued: nothing is lost.
# The state host's reaper dispatches it again with backoff (1 s, 2 s,
# 4 s ...), and once a worker host is up the job completes.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

FAIL_TIMEOUT=1s
start_mock
plan_hosts w1 w2
start_nginx
start_state_host "reap_interval = 1"

make_case case-a 2 2
post_json /api/generate-case-images "$T/case-a.json"
is "$CODE" 202 "generate answers 202 while no worker host is up"
tried() { [ "$(q "SELECT attempts FROM dispatches WHERE case_id = 'case-a'")" -ge 1 ]; }
wait_for 30 tried	# by its dispatcher, apart from the responder
is "$(q "SELECT state || ' ' || last_error FROM dispatches
    WHERE case_id = 'case-a'")" "queued HTTP 502" "the dispatch was not taken: queued, HTTP 502"
tries() {
	curl -s -o /dev/null "$BASE/api/case-images/case-a"
	[ "$(q "SELECT attempts FROM dispatches WHERE case_id = 'case-a'")" -ge 4 ]
}
check "the reaper tries again" wait_for 60 tries
is "$(grep -o 'next try in [0-9]* s' "$T/imagegen.log" | head -4 | awk '{print $4}' | tr '\n' ' ')" \
    "1 2 4 8 " "with backoff: 1 s, 2 s, 4 s, 8 s"
is "$(q "SELECT status FROM jobs WHERE case_id = 'case-a'")" pending "the job waits, pending"
is "$(q "SELECT count(*) FROM images WHERE case_id = 'case-a' AND status = 'pending'")" 4 \
    "with all its images"

start_worker_host w1
start_worker_host w2
up_at=$(date +%s)
done_a() {
	curl -s -o /dev/null "$BASE/api/case-images/case-a"
	[ "$(q "SELECT status FROM jobs WHERE case_id = 'case-a'")" = completed ]
}
check "once the pool is up, the job completes" wait_for 90 done_a
diag "completed $(($(date +%s) - up_at)) s after the worker hosts came up (backoff caps at 60 s)"
is "$(q "SELECT state || ' ' || generation FROM dispatches WHERE case_id = 'case-a'")" "done 1" \
    "under its first dispatch id"
is "$(find "$T/media" -type f | wc -l)" 4 "its 4 images are stored on the state host"
done_testing
