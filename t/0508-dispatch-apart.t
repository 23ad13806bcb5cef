#!/bin/sh
# A state host's generate answers at once even when the pool hangs: the
# dispatch is recorded, due now, and sent by a detached dispatcher
# (imagegen dispatch), never inside the responder, whose other requests
# would wait on it. Here every worker host accepts the dispatch's
# connection and never answers; three generates are answered while their
# three dispatches still hang, and once a worker host is up, the reaper's
# retries complete them all.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

start_mock
plan_hosts w1
start_nginx
start_state_host "reap_interval = 1" "webhook_timeout = 20"

# w1's FastCGI socket takes connections and says nothing.
"$PYTHON3" - "$T/w1/imagegen.sock" <<-'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
held = []
while True:
    held.append(s.accept()[0])
PY
HOLE=$!
before_cleanup "kill $HOLE 2>/dev/null"
wait_for 10 test -S "$T/w1/imagegen.sock" || bail "the black hole did not start"

for c in case-a case-b case-c; do
	make_case "$c" 2 1
	post_json /api/generate-case-images "$T/$c.json"
	is "$CODE" 202 "$c: generate answers 202"
done
held() { [ "$(q "SELECT count(*) FROM dispatches WHERE state = 'queued' AND attempts = 0
    AND next_at > $(($(date +%s%N) / 1000000))")" = 3 ]; }
check "... all three while their dispatches are still out, held by the pool" wait_for 30 held
is "$(q "SELECT count(*) FROM dispatches WHERE attempts > 0 OR state = 'sent'")" 0 \
    "... none of them answered or given up yet"
http GET /api/case-images/case-a
is "$CODE/$(json .status)" 200/pending "status answers meanwhile"

kill "$HOLE"
wait_for 10 exited "$HOLE"
rm -f "$T/w1/imagegen.sock"
start_worker_host w1
all_done() {
	curl -s -o /dev/null "$BASE/api/case-images/case-a"
	[ "$(q "SELECT count(*) FROM jobs WHERE status = 'completed'")" = 3 ]
}
check "once a worker host is up, all three complete" wait_for 120 all_done
is "$(q "SELECT group_concat(DISTINCT worker_host) FROM dispatches")" w1 "... on w1"
done_testing
