#!/bin/sh
# Crash recovery: workers killed with SIGKILL at random moments (waiting on
# the image API, compressing, between database writes), again and again,
# resumed by `imagegen reap`. Every job must end completed, with exactly one
# file per image, no temporary file left, and counters that match the rows.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency-min 0.05 --latency-max 0.4 --seed 7 --size 1536" start_stack \
    "heartbeat_interval = 1" "stale_after = 3" "reap_interval = 1"

worker_of() { db "SELECT worker_pid FROM jobs WHERE case_id = '$1' AND status = 'generating'"; }
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
reaped_final() { "$IMAGEGEN" reap >/dev/null; is_final "$1" || { sleep 0.5; return 1; }; }
rand_ms() { awk -v seed="$1" 'BEGIN { srand(seed); printf "%.3f", 0.03 + rand() * 0.45 }'; }

kills=0 seed=1 cases=0
while [ $kills -lt 60 ] && [ $cases -lt 12 ]; do
	cases=$((cases + 1))
	id=case-crash-$cases
	make_case $id 10 4
	post_json /api/generate-case-images "$T/$id.json"
	n=0
	while ! is_final $id && [ $n -lt 15 ]; do
		seed=$((seed + 1))
		sleep "$(rand_ms $seed)"
		pid=$(worker_of $id)
		if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
			kills=$((kills + 1)) n=$((n + 1))
			wait_for 2 gone "$pid"	# the reaper must see it gone
		fi
		"$IMAGEGEN" reap >/dev/null
	done
	# Let the last worker finish, reaping as cron would should the last kill have ended it.
	wait_for 60 reaped_final $id
done
diag "$kills SIGKILLs across $cases cases"
check "at least 50 workers were killed ($kills)" test $kills -ge 50

lost=0 badfiles=0 badcount=0 twice=0
i=1
while [ $i -le $cases ]; do
	id=case-crash-$i
	[ "$(job_status $id)" = completed ] || { lost=$((lost + 1)); diag "$id is $(job_status $id)"; }
	files=$(ls "$T/media/$id" | grep -c '\.jpg$')
	[ "$files" = 14 ] || { badfiles=$((badfiles + 1)); diag "$id has $files files"; }
	[ -z "$(ls -A "$T/media/$id" | grep -v '\.jpg$')" ] || { badfiles=$((badfiles + 1)); diag "$id: $(ls -A "$T/media/$id" | grep -v '\.jpg$')"; }
	rows=$(db "SELECT (SELECT completed_images FROM jobs WHERE case_id = '$id') || '/' || count(*) FROM images WHERE case_id = '$id' AND status = 'completed'")
	[ "$rows" = 14/14 ] || { badcount=$((badcount + 1)); diag "$id counters/rows $rows"; }
	w=$(grep -E "case $id: image [a-z0-9-]+ (done|found on disk)" "$T/imagegen.log" |
	    sed -E 's/.*image ([a-z0-9-]+) .*/\1/' | sort | uniq -d | wc -l)
	twice=$((twice + w))
	i=$((i + 1))
done
is "$lost" 0 "every job ended completed (images lost: 0)"
is "$badfiles" 0 "exactly one file per image, and no temporary file left"
is "$badcount" 0 "counters match the rows"
is "$twice" 0 "no finished image was written twice"
bad=0
for f in "$T"/media/case-crash-*/*.jpg; do
	[ "$(identify -format '%m %w %h' "$f" 2>/dev/null)" = "JPEG 512 512" ] || bad=$((bad + 1))
done
is "$bad" 0 "every file is a whole 512x512 JPEG"
adopted=$(grep -c 'found on disk' "$T/imagegen.log")
calls=$(wc -l < "$T/mock.log")
diag "image-API calls: $calls for $((cases * 14)) images: $((calls - cases * 14)) repeated because a worker died mid-request"
diag "images found on disk after a crash and recorded without a new call: $adopted"

# A job whose responder died before its worker started: pending, no worker.
# A request to any responder sweeps it up (at most once per reap_interval).
make_case case-nofork 2 1
post_json /api/generate-case-images "$T/case-nofork.json"
wait_for 5 sh -c "[ -n \"\$('$top_srcdir/t/db' \"SELECT worker_pid FROM jobs WHERE case_id = 'case-nofork' AND status = 'generating'\")\" ]"
kill -9 "$(worker_of case-nofork)"
db "UPDATE jobs SET status = 'pending', worker_pid = NULL, updated_at = updated_at - 60000 WHERE case_id = 'case-nofork'"
sleep 1.1
http GET /api/case-images/case-nofork
check "a status poll made a responder resume the orphaned job" wait_final case-nofork 20
is "$(job_status case-nofork)" completed "... which completed"

# A hung worker (stopped, so its heartbeat goes stale) is killed and replaced.
make_case case-hung 3 1 "" ev-2=delay=2
post_json /api/generate-case-images "$T/case-hung.json"
wait_for 5 sh -c "[ -n \"\$('$top_srcdir/t/db' \"SELECT worker_pid FROM jobs WHERE case_id = 'case-hung' AND status = 'generating'\")\" ]"
hung=$(worker_of case-hung)
kill -STOP "$hung"
sleep 3.5
"$IMAGEGEN" reap >/dev/null
check "the silent worker was killed" wait_for 5 sh -c "! kill -0 $hung"
check "the job was resumed by a new worker and finished" wait_final case-hung 20
is "$(job_status case-hung)" completed "... completed"

done_testing
