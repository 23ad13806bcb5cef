#!/bin/sh
# Threads: one responder process serves `threads` requests at once. A
# FastCGI client stalled half-way through its parameters, or a body the
# responder can wait for in the socket's buffer, holds no thread
# (intake.c); one stalled in a larger body holds its own, and all the
# threads but one at most: the last answers requests that have arrived; a
# poll does not wait behind a write that waits for SQLite's lock; SIGTERM
# lets the held requests finish.
. "$(dirname "$0")/lib.sh"

start_mock
# Clients are held here for as long as a check needs, under load too.
write_config "threads = 2" "webhook_verify = off" "input_timeout = 300"
start_imagegen
start_nginx
check "the responder starts 2 threads" \
    wait_for 60 grep -q "imagegen\[$IMAGEGEN_PID\].*responder ready, 2 threads" "$T/imagegen.log"
pid=$IMAGEGEN_PID
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
reply_body() { tr -d '\r' < "$1" | sed '1,/^$/d'; }

# held PAUSE-AT CASE [DIR]: a FastCGI client that stops at PAUSE-AT
# ("params" or "body") of generate for CASE, its files in DIR (default $T).
held() {
	dir=${3:-$T} sock=$T/imagegen.sock body=$T/$2.json
	mkdir -p "$dir"
	(T=$dir; fcgi_request "$sock" /api/generate-case-images "$body" "$1") &
	HELD_PID=$!
	wait_for 60 test -f "$dir/fcgi.paused" || bail "the FastCGI client did not pause"
}
for id in case-params case-body case-a case-b case-c; do make_case $id 2 1; done
# Bodies of 200 KB (JSON with room in it): half of one is more than the
# responder waits for in a socket's buffer (64 KiB, intake.c), so that a
# client stalled in it holds a thread.
for id in case-b case-c; do
	"$PYTHON3" -c 'import sys; t = open(sys.argv[1]).read().rstrip(); open(sys.argv[1], "w").write(t[:-1] + " " * 200000 + "}")' "$T/$id.json"
done

# held_then_released PAUSE-AT CASE PATH CODE: while a client is held at
# PAUSE-AT, a GET of PATH through nginx is answered CODE by the other
# thread at once; then the held one is let go and gets its 202.
held_then_released() {
	held "$1" "$2"
	t0=$(date +%s%N)
	http GET "$3"
	ms=$(ms_since "$t0")
	is "$CODE" "$4" "one thread held mid-$1: the other answers"
	# Not a bound on this script's clock: the held client has not gone on
	# (it would after 60 s), so the answer did not wait for it ($ms ms).
	check "... while the held one is still held ($ms ms)" \
	    test ! -f "$T/fcgi.status" -a ! -f "$T/fcgi.go"
	touch "$T/fcgi.go"
	wait "$HELD_PID"
	is "$(cat "$T/fcgi.status")" 0/0 "the held request then ends with FCGI_END_REQUEST"
	check "... with a 202" grep -q '^Status: 202' "$T/fcgi.out"
}

# 1. One thread held mid-parameters, inside FCGX_Accept_r: the other serves.
held_then_released params case-params /api/case-images/case-none 404

# 2. One held mid-body: the body is read before the request takes the
# database, so the other thread is not held up either.
held_then_released body case-body /api/case-images/case-params 200
reply_body "$T/fcgi.out" > "$T/held.json"
jcheck "... with its whole body" '.caseId == "case-body" and .totalImages == 3' "$T/held.json"

# 3. The write lock held by hand, as an operator's open transaction in the
# sqlite3 shell (or psql) holds it: a webhook update waits for it on one
# thread, and a status poll on the other is answered at once, from the
# reader (each thread's own connection, on PostgreSQL).
hold_write_lock
locker=$LOCK_PID
wait_final case-params 20 || bail "case-params did not finish"
printf '{"caseId":"case-params","status":"generating","completedImages":0,"totalImages":3,"evidenceImages":{},"locationImages":{},"failedIds":[]}' \
    > "$T/update.json"
curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $API_TOKEN" --data-binary "@$T/update.json" \
    "$BASE/api/webhook/image-progress" > "$T/update.code" &
update=$!
sleep 0.3	# the update now waits for the lock, on the writer
t0=$(date +%s%N)
http GET /api/case-images/case-params
ms=$(ms_since "$t0")
is "$CODE" 200 "a write waits for the lock on one thread: a poll on the other is answered"
check "... while the lock is still held and the update waits ($ms ms)" \
    sh -c "kill -0 $locker && test ! -f '$T/lock.go'"
touch "$T/lock.go"
wait "$update"
wait "$locker"
is "$(cat "$T/update.code")" 200 "the waiting update lands once the lock is let go"

# 4. One client held mid-parameters, two mid-body (of 200 KB): the first
# holds no thread, the second one thread, and the third waits for that
# one: the last thread is kept for requests that have arrived, and
# answers a poll.
held params case-a "$T/a"
held body case-b "$T/b"
second=$HELD_PID
held body case-c "$T/c"
third=$HELD_PID
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$BASE/api/case-images/case-params")
is "$code" 200 "held mid-parameters and twice mid-body: a poll is answered by the thread kept"
check "... while the three are still held" \
    test ! -f "$T/a/fcgi.status" -a ! -f "$T/b/fcgi.status" -a ! -f "$T/c/fcgi.status"
touch "$T/a/fcgi.go"
check "the one held mid-parameters, let go, is served" wait_for 20 test -s "$T/a/fcgi.status"
check "... with a 202" grep -q '^Status: 202' "$T/a/fcgi.out"

# 5. SIGTERM with one thread held mid-body, another body waiting for it:
# both are served, then the process exits 0.
kill -TERM "$pid"
sleep 0.3
check "SIGTERM with requests held: the responder waits for them" kill -0 "$pid"
touch "$T/b/fcgi.go" "$T/c/fcgi.go"
wait "$second"
wait "$third"
is "$(cat "$T/b/fcgi.status") $(cat "$T/c/fcgi.status")" "0/0 0/0" \
    "the held requests end with FCGI_END_REQUEST"
check "... each with a 202" test "$(grep -l '^Status: 202' "$T/b/fcgi.out" "$T/c/fcgi.out" | wc -l)" = 2
wait_exit "$pid" 5
is "$?" 0 "then the responder exits 0"
check "... and says so once" test "$(grep -c "imagegen\[$pid\].*serve: SIGTERM" "$T/imagegen.log")" -eq 1

done_testing
