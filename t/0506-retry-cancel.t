#!/bin/sh
# retry and cancel on a state host. A retry sends the images to make again
# to the worker hosts, under a new dispatch id; no local worker makes them.
# A cancel fences the worker host's dispatch (its next update gets 409 and
# it stops) and ends the job on the state host, with no call to the API.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

start_mock
plan_hosts w1
start_nginx
start_state_host "reap_interval = 1"
start_worker_host w1 "heartbeat_interval = 1"

make_case case-r 2 1 "" "ev-1=filtered"
post_json /api/generate-case-images "$T/case-r.json"
check "case-r ends, its filtered image failed" wait_final case-r 60
is "$(job_status case-r)" partial "case-r is partial"
before=$(jq -r '.prompt // empty' "$T/mock.log" | grep -c 'Evidence number 1 of case case-r')
http POST /api/case-images/case-r/retry
is "$CODE" 202 "retry answers 202"
again() {
	[ "$(q "SELECT state || generation FROM dispatches WHERE case_id = 'case-r'")" = done2 ] &&
	    [ "$(job_status case-r)" = partial ]
}
check "the retry is dispatched again, as generation 2, and ends" wait_for 60 again
after=$(jq -r '.prompt // empty' "$T/mock.log" | grep -c 'Evidence number 1 of case case-r')
check "the worker host tried the failed image again ($before, then $after requests)" \
    test "$after" -gt "$before"
is "$(jq -r '.prompt // empty' "$T/mock.log" | grep -c 'Evidence number 0 of case case-r')" 1 \
    "the completed images were not made again"
is "$(q "SELECT count(*) FROM jobs WHERE worker_pid IS NOT NULL")" 0 "no local worker made anything"

make_case case-c 6 1 "" $(for k in 0 1 2 3 4 5; do echo "ev-$k=delay=4"; done)
post_json /api/generate-case-images "$T/case-c.json"
running() { [ "$(hq w1 "SELECT status FROM jobs WHERE case_id = 'case-c'")" = generating ]; }
check "case-c runs on w1" wait_for 30 running
wpid=$(hq w1 "SELECT worker_pid FROM jobs WHERE case_id = 'case-c'")
http POST /api/case-images/case-c/cancel
is "$CODE" 202 "cancel answers 202"
check "the state host ends the job" wait_final case-c 30
fenced() { [ -n "$(hq w1 "SELECT fenced_at FROM dispatch_jobs WHERE case_id = 'case-c'")" ]; }
check "the worker host's next update is refused, and it fences the job" wait_for 30 fenced
check "its worker stops" wait_for 10 exited "$wpid"
done_testing
