#!/bin/sh
# A job that waits in a worker host's queue (its max_inflight is full) has
# no worker to beat for it, and the host's running jobs do. While its
# host is heard from, the state host does not take such a dispatch for
# silence: dispatched again, the job would be made twice, paid twice, and
# the host it waited on would be told 409 for it once it started. Once the
# host falls silent, its queued jobs go elsewhere like its running ones.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

STALE=3
# Each case takes 4 s or more at concurrency 5; one at a time on w1.
start_mock --latency 4
plan_hosts w1 w2
start_nginx
start_state_host "reap_interval = 1" "stale_after = $STALE"
start_worker_host w1 "heartbeat_interval = 1" "max_inflight = 1"

# 1. w1 alone (w2 is down: nginx skips it). Three cases: one runs, two wait
# on w1, the last some 8 s, well past stale_after.
N=3
submit_cases $N 2 1
queued_on_w1() { [ "$(hq w1 "SELECT count(*) FROM jobs WHERE status = 'pending'")" -ge 1 ]; }
check "w1 keeps a job waiting under its max_inflight" wait_for 30 queued_on_w1
all_done() {
	curl -s -o /dev/null "$BASE/api/case-images/case-0"	# polls wake the reaper
	[ "$(q "SELECT count(*) FROM jobs WHERE status = 'completed'")" = $N ]
}
check "all $N cases complete" wait_for 120 all_done
is "$(q "SELECT count(*) FROM dispatches WHERE generation > 1")" 0 \
    "none was dispatched again while it waited on a live host"
is "$(hq w1 "SELECT count(*) FROM dispatch_jobs WHERE fenced_at IS NOT NULL")" 0 \
    "... none fenced on w1"
is "$(jq -r '.prompt // empty' "$T/mock.log" | wc -l)" $((N * 3)) \
    "each image asked of the image API once"
is "$(q "SELECT group_concat(DISTINCT worker_host) FROM dispatches")" w1 \
    "the state host knows where each dispatch went, from the worker host's answer"

# 2. w1 dies with one job at work and one waiting; w2 comes up. Both go
# to w2 once w1 has been silent for stale_after.
submit_one() { make_case "$1" 2 1; post_json /api/generate-case-images "$T/$1.json"; }
submit_one case-a
submit_one case-b
busy() { [ "$(hq w1 "SELECT count(*) FROM jobs WHERE status = 'generating'")" = 1 ] &&
    [ "$(hq w1 "SELECT count(*) FROM jobs WHERE status = 'pending'")" = 1 ]; }
check "w1 runs one and keeps one waiting" wait_for 30 busy
pids=$(hq w1 "SELECT worker_pid FROM jobs WHERE worker_pid IS NOT NULL AND status = 'generating'")
kill -9 $PID_w1 $pids
for p in $PID_w1 $pids; do wait_for 10 exited "$p"; done
start_worker_host w2 "heartbeat_interval = 1"
both_done() {
	curl -s -o /dev/null "$BASE/api/case-images/case-a"
	[ "$(q "SELECT count(*) FROM jobs WHERE case_id IN ('case-a', 'case-b')
	    AND status = 'completed'")" = 2 ]
}
check "a dead host's waiting job is dispatched again too: both complete" wait_for 120 both_done
is "$(q "SELECT group_concat(worker_host, ',') FROM (SELECT worker_host FROM dispatches
    WHERE case_id IN ('case-a', 'case-b') ORDER BY case_id)")" w2,w2 "... on w2"
done_testing
