#!/bin/sh
# A write lock held by another connection (an operator's sqlite3 shell,
# or psql) past the busy timeout (5 s; PostgreSQL's lock_timeout) is no
# internal error: generate, cancel and
# the progress webhook answer 503 {"error":"busy"} with Retry-After, within
# the timeout, not 500 after it twice over. Status and metrics read on the
# reader connection and answer 200 meanwhile: while a generate still waits
# on the lock, not after it.
. "$(dirname "$0")/lib.sh"

start_stack "webhook_verify_secrets = $HOOK_SECRET"
q() { db "$1"; }
make_case case-before 1 1
post_json /api/generate-case-images "$T/case-before.json"
check "a job made before the lock finishes" wait_final case-before 30
http GET /api/metrics/image-generation	# the metrics' statements are prepared

# The operator's shell: it takes the write lock and keeps it until told.
mkfifo "$T/shell.in"
db < "$T/shell.in" > "$T/shell.out" 2>&1 &
SHELL_PID=$!
before_cleanup "kill $SHELL_PID 2>/dev/null"
exec 3> "$T/shell.in"
if on_pg; then
	printf 'BEGIN;\nLOCK TABLE jobs, images, webhook_seen, maintenance IN EXCLUSIVE MODE;\n' >&3
	locked() { ! db "BEGIN; LOCK TABLE jobs IN EXCLUSIVE MODE NOWAIT; ROLLBACK;" 2>/dev/null; }
	LOCK_SAYS='canceling statement due to lock timeout'
else
	printf 'BEGIN IMMEDIATE;\nUPDATE maintenance SET last_run = last_run;\n' >&3
	locked() { ! db ".timeout 0" "BEGIN IMMEDIATE; ROLLBACK;" 2>/dev/null; }
	LOCK_SAYS='database is locked'
fi
printf 'SELECT %s;\n' "'locked'" >&3
check "the shell holds the write lock" wait_for 10 grep -q locked "$T/shell.out"
check "... which another writer cannot take" locked

timed() {	# timed METHOD PATH [curl options]: sets CODE and MS
	t0=$(date +%s%N)
	http "$@"
	MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
make_case case-locked 1 1
timed POST /api/generate-case-images -H 'Content-Type: application/json' --data-binary "@$T/case-locked.json"
is "$CODE" 503 "generate answers 503 (${MS} ms)"
is "$(jsonc .)" '{"error":"busy"}' '... {"error":"busy"}'
is "$(header Retry-After)" 2 "... with Retry-After: 2"
check "... within the 5 s timeout, not twice it (${MS} ms)" test "$MS" -lt 10000
printf '%s' '{"caseId":"case-before","status":"completed","completedImages":2,"totalImages":2,
  "evidenceImages":{},"locationImages":{},"failedIds":[]}' > "$T/hook.json"
t0=$(date +%s%N)
post_progress "$T/hook.json"	# signed: the replay check is what meets the lock
MS=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$CODE" 503 "the progress webhook answers 503 (${MS} ms)"
check "... within the timeout, not twice it (${MS} ms)" test "$MS" -lt 10000
is "$(header Retry-After)" 2 "... with Retry-After"
# A writer waits on the lock for 5 s; the reads must not wait behind it.
make_case case-waits 1 1
starts() { grep -c "POST /api/generate-case-images: start" "$T/imagegen.log"; }
before=$(starts)
curl -s -m 30 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $API_TOKEN" \
    -H 'Content-Type: application/json' --data-binary "@$T/case-waits.json" \
    "$BASE/api/generate-case-images" > "$T/waits.code" &
WRITER=$!
waiting() { [ "$(starts)" -gt "$before" ]; }
check "a generate waits on the lock" wait_for 10 waiting
timed GET /api/case-images/case-before
is "$CODE" 200 "status answers 200 (${MS} ms)"
timed GET /api/metrics/image-generation
is "$CODE" 200 "metrics answers 200 (${MS} ms)"
check "... both while the generate still waits: on the reader" test ! -s "$T/waits.code"
wait "$WRITER"
is "$(cat "$T/waits.code")" 503 "... which then answers 503"
check "the log says what was locked" grep -q "$LOCK_SAYS" "$T/imagegen.log"

printf 'COMMIT;\n' >&3
exec 3>&-
wait_exit "$SHELL_PID" 10
is "$?" 0 "the shell lets go"
post_json /api/generate-case-images "$T/case-locked.json"
is "$CODE" 202 "generate answers 202 once the lock is gone"
check "and the job finishes" wait_final case-locked 30

done_testing
