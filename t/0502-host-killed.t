#!/bin/sh
# A worker host killed mid-run (its responder and all its workers,
# SIGKILL). Its worker hosts beat every heartbeat_interval; the state
# host's reaper dispatches a job silent for stale_after again, under a new
# dispatch id, with only the images still to make, to whichever host the
# upstream picks (nginx skips the dead one). All cases complete, none is
# lost, no file is stored twice. When the dead host comes back, its own
# reaper resumes its old jobs: their updates carry the old dispatch ids,
# are refused (409), and its workers stop. The time to recover is
# reported against stale_after.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

STALE=4
start_mock --latency 1
plan_hosts w1 w2 w3
start_nginx
start_state_host "reap_interval = 1" "stale_after = $STALE"
for h in w1 w2 w3; do start_worker_host "$h" "heartbeat_interval = 1"; done

N=12
submit_cases $N 10 4
w2_busy() { [ "$(hq w2 "SELECT count(*) FROM jobs WHERE status = 'generating'")" -gt 0 ] &&
    [ "$(hq w2 "SELECT count(*) FROM images WHERE status = 'completed'")" -gt 0 ]; }
check "w2 is at work, with images made" wait_for 60 w2_busy
victims=$(hq w2 "SELECT count(*) FROM jobs WHERE status IN ('pending', 'generating')")
pids=$(hq w2 "SELECT worker_pid FROM jobs WHERE status = 'generating' AND worker_pid IS NOT NULL")
killed_at=$(date +%s.%N)
killed_ms=$(echo "$killed_at * 1000 / 1" | bc)
kill -9 $PID_w2 $pids
for p in $PID_w2 $pids; do wait_for 10 exited "$p"; done
diag "w2 killed with $victims unfinished jobs"

# Polls, as a game backend's, are what wakes the state host's reaper.
all_done() {
	curl -s -o /dev/null "$BASE/api/case-images/case-0"
	[ "$(q "SELECT count(*) FROM jobs WHERE status = 'completed'")" = $N ]
}
check "all $N cases complete, none lost" wait_for 120 all_done
recovered=$(echo "$(date +%s.%N) - $killed_at" | bc)
# Under load a live host's job can also go stale before the kill; only
# what is dispatched again after it is w2's.
redispatched=$(q "SELECT count(*) FROM dispatches WHERE generation > 1 AND sent_at >= $killed_ms")
check "the dead host's unfinished jobs were dispatched again ($redispatched)" \
    test "$redispatched" -ge 1
first=$(q "SELECT min(sent_at) FROM dispatches WHERE generation > 1 AND sent_at >= $killed_ms")
diag "recovery: all $N cases complete $(printf '%.1f' "$recovered") s after the kill;" \
    "first re-dispatch $(printf "%.1f" "$(echo "$first / 1000 - $killed_at" | bc -l)") s after it;" \
    "stale_after = $STALE s, heartbeat_interval = 1 s, mock latency 1 s"
is "$(q "SELECT count(*) FROM images WHERE status = 'completed'")" $((N * 14)) \
    "every image is completed"
is "$(find "$T/media" -type f | wc -l)" $((N * 14)) "no file is stored twice"
# An update w2 sent just before the kill may land after it; once its jobs
# are dispatched again, nothing of w2's is taken.
is "$(q "SELECT count(*) FROM images WHERE worker_host = 'w2' AND finished_at > $first")" 0 \
    "nothing of the dead host's is taken once its jobs are dispatched again"

# w2 comes back; its reaper resumes its old jobs, whose updates are refused.
before=$(grep -c "refused an update of dispatch" "$T/imagegen.log")
start_worker_host w2 "heartbeat_interval = 1"
IMAGEGEN_CONFIG=$T/w2/imagegen.conf "$IMAGEGEN" reap > "$T/reap.out" 2>&1
diag "w2's reap: $(cat "$T/reap.out")"
fenced() { [ "$(hq w2 "SELECT count(*) FROM dispatch_jobs d JOIN jobs j USING (case_id)
    WHERE j.status IN ('pending', 'generating') OR d.fenced_at IS NULL AND j.status <> 'completed'")" = 0 ]; }
check "w2's old jobs are fenced and stop" wait_for 60 fenced
# What the state host took from w2 was deleted once acknowledged; what it
# refused is made elsewhere: w2 keeps no file.
w2_empty() { [ "$(find "$T/w2/media" -type f | wc -l)" = 0 ]; }
check "w2 keeps no file of its fenced jobs" wait_for 30 w2_empty
diag "w2's media: $(find "$T/w2/media" -type f | wc -l) files; $(hq w2 "SELECT count(*) FROM dispatch_jobs WHERE fenced_at IS NOT NULL") fenced jobs"
after=$(grep -c "refused an update of dispatch" "$T/imagegen.log")
check "the state host refused w2's replayed updates ($((after - before)))" test "$after" -gt "$before"
is "$(find "$T/media" -type f | wc -l)" $((N * 14)) "still no file stored twice"
is "$(q "SELECT count(*) FROM images WHERE status = 'completed' AND worker_host IS NOT NULL")" \
    $((N * 14)) "every image names the host that made it"
done_testing
