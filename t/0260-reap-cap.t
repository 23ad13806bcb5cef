#!/bin/sh
# No more workers than max_inflight. 1: six cases submitted at once start
# two workers and queue four; each worker that ends starts the queued job
# that has waited longest. 2: after an outage, six jobs whose workers all
# died: a sweep brings back two and says four wait, and the workers that
# end start the others, with no sweep needed. Every job ends completed.
. "$(dirname "$0")/lib.sh"

conf() { write_config "max_inflight = $1" "heartbeat_interval = 1" "stale_after = 2" \
    "reap_interval = 3600"; }
start_mock --latency 1
conf 2
start_imagegen
start_nginx

# [i]: pgrep must not count a shell whose own command line holds the pattern.
workers() { pgrep -fc "[i]magegen worker case-cap-" || true; }
no_workers() { [ "$(workers)" -eq 0 ]; }
db() { sqlite3 "$T/imagegen.db" "$1"; }
reap() { "$IMAGEGEN" reap 2>/dev/null | sed -n 's/^\([0-9]*\) jobs\{0,1\} resumed.*/\1/p'; }
all_final() { for i in $(seq "$1" "$2"); do is_final case-cap-$i || return 1; done; }
# watch FIRST LAST: waits (60 s at most) for those cases to end, counting
# the workers alive every 0.2 s; sets MOST.
watch() {
	MOST=0 end=$(($(date +%s) + 60))
	while ! all_final "$1" "$2" && [ "$(date +%s)" -lt "$end" ]; do
		n=$(workers)
		[ "$n" -gt "$MOST" ] && MOST=$n
		sleep 0.2
	done
}

# 1. Six at once, max_inflight 2.
codes=
for i in 1 2 3 4 5 6; do
	make_case case-cap-$i 1 1
	post_json /api/generate-case-images "$T/case-cap-$i.json"
	codes="$codes$CODE "
done
is "$codes" "202 202 202 202 202 202 " "six cases accepted"
is "$(db "SELECT group_concat(case_id, ' ') FROM (SELECT case_id FROM jobs
    WHERE queued_at IS NOT NULL ORDER BY queued_at)")" \
    "case-cap-3 case-cap-4 case-cap-5 case-cap-6" "the last four wait queued"
check "... and the log says why" grep -q "case case-cap-6: queued: 2 workers at work, max_inflight 2" \
    "$T/imagegen.log"
watch 1 6
check "all six end" all_final 1 6
is "$(db "SELECT count(*) FROM jobs WHERE case_id LIKE 'case-cap-%' AND status = 'completed'")" 6 \
    "... completed"
check "never more than 2 workers at once (at most $MOST seen)" test "$MOST" -le 2
is "$(db "SELECT group_concat(case_id, ' ') FROM (SELECT case_id FROM jobs
    WHERE case_id IN ('case-cap-3', 'case-cap-4', 'case-cap-5', 'case-cap-6')
    ORDER BY started_at, case_id)")" "case-cap-3 case-cap-4 case-cap-5 case-cap-6" \
    "the queued ones started oldest first"
is "$(db "SELECT count(*) FROM jobs WHERE queued_at IS NOT NULL")" 0 "none is left queued"

# 2. An outage: a responder with room for all starts six workers, which
# all die; the host comes back with max_inflight 2.
kill -TERM "$IMAGEGEN_PID"
wait_exit "$IMAGEGEN_PID" 10 || bail "the responder did not stop"
conf 64
rm -f "$T/imagegen.sock"
start_imagegen
for i in 7 8 9 10 11 12; do
	make_case case-cap-$i 1 1
	post_json /api/generate-case-images "$T/case-cap-$i.json"
	wait_for 10 sh -c "[ -n \"\$(sqlite3 '$T/imagegen.db' \"SELECT worker_pid FROM jobs WHERE case_id = 'case-cap-$i' AND status = 'generating'\")\" ]" ||
	    bail "case-cap-$i did not start"
	kill -9 "$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-cap-$i'")"
done
check "no worker is left" wait_for 5 no_workers
conf 2
sleep 2	# stale_after: a worker hands over only to a job that has waited that long
is "$(reap)" 2 "the first sweep resumes 2 of 6 orphans (max_inflight 2)"
check "... and says the other 4 wait" \
    grep -q "reap: 6 jobs without a worker, 0 workers alive, max_inflight 2: 4 wait for a place" \
    "$T/imagegen.log"
is "$(reap)" 0 "a sweep while those 2 run resumes none"
watch 7 12
check "all six end, with no sweep after the first two" all_final 7 12
is "$(db "SELECT count(*) FROM jobs WHERE case_id LIKE 'case-cap-%' AND status = 'completed'")" 12 \
    "... completed"
check "never more than 2 workers at once (at most $MOST seen)" test "$MOST" -le 2

done_testing
