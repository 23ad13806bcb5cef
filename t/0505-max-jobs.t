#!/bin/sh
# dispatch_max_jobs caps the jobs a state host has at work on its worker
# hosts at once; past it a job waits queued, and the reaper dispatches it
# when a place is free. Every job completes.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

# Each job takes 3 s or more: the six generates come well within it.
start_mock --latency 3
plan_hosts w1
start_nginx
start_state_host "reap_interval = 1" "dispatch_max_jobs = 2"
start_worker_host w1

N=6
submit_cases $N 4 2
# Six dispatchers race for the places: the claim is one statement.
two_four() { [ "$(q "SELECT count(*) FILTER (WHERE state = 'sent') || ' ' ||
    count(*) FILTER (WHERE state = 'queued') FROM dispatches")" = "2 4" ]; }
check "two jobs are dispatched at once; the four others wait queued" wait_for 30 two_four
most=0
settled() {
	curl -s -o /dev/null "$BASE/api/case-images/case-0"
	n=$(q "SELECT count(*) FROM dispatches WHERE state = 'sent'")
	[ "$n" -gt "$most" ] && most=$n
	[ "$(q "SELECT count(*) FROM jobs WHERE status = 'completed'")" = $N ]
}
check "all $N jobs complete" wait_for 120 settled
check "never more than 2 at work at once (at most $most seen)" test "$most" -le 2
is "$(hq w1 "SELECT count(*) FROM jobs")" $N "the worker host ran each once"
done_testing
