#!/bin/sh
# After an outage: six jobs whose workers all died. A sweep brings back no
# more workers than max_inflight, counting those alive; each worker that
# ends hands its place to a job still waiting, with no sweep needed, and
# every job ends completed.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 1" start_stack "max_inflight = 2" "heartbeat_interval = 1" \
    "stale_after = 2" "reap_interval = 3600"

N=6
# [i]: pgrep must not count a shell whose own command line holds the pattern.
workers() { pgrep -fc "[i]magegen worker case-cap-" || true; }
worker_of() { sqlite3 "$T/imagegen.db" "SELECT worker_pid FROM jobs WHERE case_id = '$1' AND status = 'generating'"; }
reap() { "$IMAGEGEN" reap 2>/dev/null | sed -n 's/^\([0-9]*\) jobs\{0,1\} resumed.*/\1/p'; }
all_final() { for i in $(seq 1 $N); do is_final case-cap-$i || return 1; done; }

# Each job's first worker is killed as soon as it has claimed its job.
for i in $(seq 1 $N); do
	make_case case-cap-$i 1 1
	post_json /api/generate-case-images "$T/case-cap-$i.json"
	is "$CODE" 202 "case-cap-$i accepted"
	wait_for 10 sh -c "[ -n \"\$(sqlite3 '$T/imagegen.db' \"SELECT worker_pid FROM jobs WHERE case_id = 'case-cap-$i' AND status = 'generating'\")\" ]" ||
	    bail "case-cap-$i did not start"
	kill -9 "$(worker_of case-cap-$i)"
done
no_workers() { [ "$(workers)" -eq 0 ]; }
check "no worker is left" wait_for 5 no_workers
sleep 2	# stale_after: a worker hands over only to a job that has waited that long

is "$(reap)" 2 "the first sweep resumes 2 of $N orphans (max_inflight 2)"
check "... and says the other $((N - 2)) wait" \
    grep -q "reap: $N jobs without a worker, 0 workers alive, max_inflight 2: $((N - 2)) wait for a place" "$T/imagegen.log"
is "$(reap)" 0 "a sweep while those 2 run resumes none"

# No more sweeps: the workers that end hand over, two at a time.
most=0 end=$(($(date +%s) + 60))
while ! all_final && [ "$(date +%s)" -lt "$end" ]; do
	n=$(workers)
	[ "$n" -gt "$most" ] && most=$n
	sleep 0.2
done
check "all $N jobs end, with no sweep after the first two" all_final
for i in $(seq 1 $N); do
	is "$(job_status case-cap-$i)" completed "case-cap-$i completed"
done
check "never more than 2 workers at once (at most $most seen)" test "$most" -le 2

done_testing
