#!/bin/sh
# Restarts: SIGTERM lets a FastCGI responder answer the request in hand,
# whatever stage it is at, and then exit 0. The workers are detached: a
# responder restarted while its jobs run loses none of them, and the new
# one serves their status.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 1.5" start_stack

# A responder is ready once it says so: a SIGTERM before that ends it at once.
ready() {
	wait_for 10 grep -q "imagegen\[$IMAGEGEN_PID\].*responder ready" "$T/imagegen.log" ||
	    bail "imagegen did not get ready"
}
restart_imagegen() {	# a new responder on a fresh socket, as a service manager would
	rm -f "$T/imagegen.sock"
	start_imagegen
	ready
}
sockets() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'socket:'; }
more_sockets() { [ "$(sockets "$1")" -gt "$2" ]; }
reply_body() { tr -d '\r' < "$1" | sed '1,/^$/d'; }	# the body of a CGI reply

# 1. An idle responder, blocked in accept(), leaves at once.
ready
pid=$IMAGEGEN_PID
t0=$(date +%s%N)
kill -TERM "$pid"
wait_exit "$pid" 5; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
is "$rc" 0 "an idle responder exits 0 on SIGTERM, with no request to wake it"
diag "... in $ms ms"
check "... and says why in the log" grep -q 'serve: SIGTERM' "$T/imagegen.log"
http GET /api/case-images/case-none
check "with no responder, nginx answers 502 or 503 ($CODE)" \
    sh -c "[ '$CODE' = 502 ] || [ '$CODE' = 503 ]"
jcheck "... in JSON" '.error == "service unavailable"'

# 2. Through nginx: a generate request held inside the responder (another
# connection holds the database's write lock) when SIGTERM arrives.
restart_imagegen
pid=$IMAGEGEN_PID
base=$(sockets "$pid")
hold_write_lock
lock_pid=$LOCK_PID
make_case case-term 4 2
curl -s -m 30 -o "$T/term.body" -w '%{http_code}' -H 'Content-Type: application/json' -H "Authorization: Bearer $API_TOKEN" \
    --data-binary "@$T/case-term.json" "$BASE/api/generate-case-images" > "$T/term.code" &
curl_pid=$!
check "the request reaches the responder" wait_for 10 more_sockets "$pid" "$base"
sleep 0.2
kill -TERM "$pid"
sleep 0.3
check "SIGTERM mid-request: the responder is still at work" \
    sh -c "kill -0 $pid && ! grep -q 'imagegen\\[$pid\\].*serve: SIGTERM' '$T/imagegen.log'"
touch "$T/lock.go"
wait "$lock_pid"
wait "$curl_pid"
is "$(cat "$T/term.code")" 202 "the request in hand still gets its 202"
jcheck "... with its whole body" '.caseId == "case-term" and .status == "pending" and .totalImages == 6' "$T/term.body"
wait_exit "$pid" 10
is "$?" 0 "then the responder exits 0"

# 3. Straight to the socket, as a web server that streams the body would:
# SIGTERM while the body is half sent. Signals wait while a request is
# served, so the body is read whole (no EINTR), answered, and then the
# responder leaves.
restart_imagegen
pid=$IMAGEGEN_PID
make_case case-body 4 2
fcgi_request_bg "$T/imagegen.sock" /api/generate-case-images "$T/case-body.json" body
wait_for 60 test -f "$T/fcgi.paused" || bail "the FastCGI client did not start"
sleep 0.1
kill -TERM "$pid"
sleep 0.3
check "SIGTERM mid-body: the responder waits for the rest" kill -0 "$pid"
touch "$T/fcgi.go"
wait "$FCGI_PID"
is "$(cat "$T/fcgi.status")" 0/0 "the request ends with FCGI_END_REQUEST, status 0"
check "... with a 202" grep -q '^Status: 202' "$T/fcgi.out"
reply_body "$T/fcgi.out" > "$T/body"
jcheck "... and its whole body" '.caseId == "case-body" and .totalImages == 6'
wait_exit "$pid" 10
is "$?" 0 "then the responder exits 0"

# 4. SIGTERM while libfcgi reads a request's parameters, inside
# FCGX_Accept_r: the connection is accepted already, so it is served.
restart_imagegen
pid=$IMAGEGEN_PID
make_case case-params 4 2
fcgi_request_bg "$T/imagegen.sock" /api/generate-case-images "$T/case-params.json" params
wait_for 60 test -f "$T/fcgi.paused" || bail "the FastCGI client did not start"
sleep 0.1
kill -TERM "$pid"
sleep 0.3
check "SIGTERM mid-parameters: the responder waits for the rest" kill -0 "$pid"
touch "$T/fcgi.go"
wait "$FCGI_PID"
is "$(cat "$T/fcgi.status")" 0/0 "the request ends with FCGI_END_REQUEST, status 0"
check "... with a 202" grep -q '^Status: 202' "$T/fcgi.out"
reply_body "$T/fcgi.out" > "$T/body"
jcheck "... and its whole body" '.caseId == "case-params" and .totalImages == 6'
wait_exit "$pid" 10
is "$?" 0 "then the responder exits 0"

# 5. A restart while jobs run: three jobs of 8 images (two rounds of 1.5 s
# each), the responder stopped right after the 202s, a new one started.
restart_imagegen
pid=$IMAGEGEN_PID
codes=
for i in 1 2 3; do
	make_case case-rs-$i 6 2
	post_json /api/generate-case-images "$T/case-rs-$i.json"
	codes="$codes$CODE "
done
wait_for 5 sh -c "[ -n \"\$('$top_srcdir/t/db' \"SELECT worker_pid FROM jobs WHERE case_id = 'case-rs-1' AND status = 'generating'\")\" ]"
wpid=$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-rs-1'")
kill -TERM "$pid"
is "$codes" "202 202 202 " "three jobs accepted"
is "$(awk '$1 == "SigBlk:" {print $2}' "/proc/$wpid/status" 2>/dev/null)" 0000000000000000 \
    "a worker does not inherit the responder's blocked signals"
wait_exit "$pid" 10
is "$?" 0 "the responder stopped with them running exits 0"
running=0
for i in 1 2 3; do is_final case-rs-$i || running=$((running + 1)); done
is "$running" 3 "no job was finished when the responder left"
restart_imagegen
: > "$T/seen"
all_final() {
	for i in 1 2 3; do
		http GET /api/case-images/case-rs-$i
		[ "$CODE" = 200 ] || return 1
		echo "$(json .status)" >> "$T/seen"
		case $(json .status) in completed|partial|failed) ;; *) sleep 0.1; return 1 ;; esac
	done
}
check "the new responder serves their status until all three end" wait_for 30 all_final
check "... and saw them generating on the way" grep -q generating "$T/seen"
for i in 1 2 3; do
	http GET /api/case-images/case-rs-$i
	is "$(json .status)/$(json .completedImages)/$(json .failedImages)" completed/8/0 \
	    "case-rs-$i completed, all 8 images"
done
bad=0
for i in 1 2 3; do
	for f in "$T"/media/case-rs-$i/*.jpg; do
		[ "$(identify -format '%m %w %h' "$f" 2>/dev/null)" = "JPEG 512 512" ] || bad=$((bad + 1))
	done
	[ "$(ls -A "$T/media/case-rs-$i" | grep -c '\.jpg$')" = 8 ] || bad=$((bad + 1))
done
is "$bad" 0 "8 whole JPEGs per job on disk"
started=$(grep -cE 'case case-rs-[123]: worker started' "$T/imagegen.log")
is "$started" 3 "one worker per job: none was lost and resumed"
is "$(grep -cE 'case-rs-[123]' "$T/mock.log")" 24 "each image was asked of the API once"

# 6. Responders that share the listening socket (spawn-fcgi -F 2): one
# stopped, the other still serves; then it stops too.
kill -TERM "$IMAGEGEN_PID"
wait_exit "$IMAGEGEN_PID" 10
start_imagegen_pool 2
set -- $IMAGEGEN_PIDS
wait_for 10 sh -c "[ \$(grep -cE 'imagegen\[($1|$2)\].*responder ready' '$T/imagegen.log') -eq 2 ]" ||
    bail "the pool did not get ready"
kill -TERM "$1"
check "one of two responders stopped" wait_for 5 exited "$1"
codes=
for i in 1 2 3 4 5; do http GET /api/case-images/case-rs-1; codes="$codes$CODE "; done
is "$codes" "200 200 200 200 200 " "the other one still answers"
kill -TERM "$2"
check "... until it is stopped too" wait_for 5 exited "$2"

# The jobs accepted by the responders stopped in 2-4 finished too.
for id in case-term case-body case-params; do
	wait_final $id 20
	is "$(job_status $id)" completed "$id, accepted while its responder stopped, completed"
done

done_testing
