#!/bin/sh
# The webhook outbox: an update is a row written with the state it
# reports, before anything is sent. A worker killed after it recorded a
# job completed, while a slow receiver still held an earlier update, left
# the final in no row at all; now `imagegen reap` sends it. A newer update
# supersedes the older pending ones, so nothing older arrives after the
# final. And webhook-ids never repeat: not after a case is deleted and
# submitted again, which reuses SQLite's row ids.
. "$(dirname "$0")/lib.sh"

q() { db "$1"; }
H=$T/hook.log

# The receiver holds the first post (the start update) and never answers it.
start_receiver --hold 1
start_stack "reap_interval = 86400" "webhook_timeout = 60"
make_case case-held 2 1 "$HOOK_URL"
post_json /api/generate-case-images "$T/case-held.json"
held() { [ "$(jq -r 'select(.status == 0) | .json.status' "$H" 2>/dev/null)" = generating ]; }
check "the receiver holds the start update" wait_for 20 held
check "the job is recorded completed meanwhile" wait_final case-held 30
pid=$(q "SELECT worker_pid FROM jobs WHERE case_id = 'case-held'")
is "$(q "SELECT event || ' ' || status || ' ' || attempts FROM webhook_deliveries
    WHERE case_id = 'case-held' ORDER BY id DESC LIMIT 1")" "final pending 0" \
    "the final is a pending row, never attempted, while the worker waits on the start"
is "$(q "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'case-held' AND status = 'pending'")" 1 \
    "it superseded every older row"
kill -9 "$pid"
check "the worker is killed before it sent the final" wait_for 10 exited "$pid"
is "$(jq -r 'select(.json.status == "completed")' "$H" | wc -l)" 0 "the receiver has no final yet"
out=$("$IMAGEGEN" reap)
is "$out" "0 jobs resumed, 1 webhook delivery sent" "one imagegen reap sends it"
final=$(q "SELECT webhook_id FROM webhook_deliveries WHERE case_id = 'case-held' AND event = 'final'")
is "$(jq -r --arg id "$final" 'select(.headers["webhook-id"] == $id) | .status' "$H" | tr '\n' ' ')" \
    "200 " "the receiver got the final once, under its id"
is "$(jq -c 'select(.status == 200) | [.json.status, .json.completedImages]' "$H" | tail -1)" \
    '["completed",3]' "the last update it accepted is the final, all 3 images done"
"$IMAGEGEN" reap >/dev/null
is "$(jq -r --arg id "$final" 'select(.headers["webhook-id"] == $id)' "$H" | jq -s length)" 1 \
    "a second reap sends nothing again"
is "$(q "SELECT group_concat(status, ' ') FROM (SELECT status FROM webhook_deliveries
    WHERE case_id = 'case-held' ORDER BY id) AS d")" \
    "superseded superseded superseded superseded delivered" \
    "start and progress rows were superseded, kept for the operator; the final delivered"
is "$(q "SELECT event || ' ' || status || ' ' || attempts FROM webhook_deliveries
    WHERE case_id = 'case-held' ORDER BY id LIMIT 1")" "start superseded 1" \
    "the start, sent and held when its worker died, says so: 1 attempt (the receiver may have it)"

# Resubmit after delete: the rows of the first job go, their row ids come
# back to the second; its webhook-ids must not.
kill "$HOOK_PID"
rm -f "$T/hook.port" "$H"
start_receiver
make_case case-again 2 2 "$HOOK_URL"
for round in 1 2; do
	post_json /api/generate-case-images "$T/case-again.json"
	is "$CODE" 202 "round $round: generate answers 202"
	check "round $round: the job finishes" wait_final case-again 30
	settled() { [ "$(q "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'case-again' AND status = 'pending'")" = 0 ] &&
	    [ "$(q "SELECT status FROM webhook_deliveries WHERE case_id = 'case-again' AND event = 'final'")" = delivered ]; }
	check "round $round: its final is delivered" wait_for 20 settled
	q "SELECT max(id) FROM webhook_deliveries" > "$T/maxid.$round"
	wait_for 10 exited "$(q "SELECT worker_pid FROM jobs WHERE case_id = 'case-again'")"
	[ $round = 1 ] && q "PRAGMA foreign_keys = ON; DELETE FROM jobs WHERE case_id = 'case-again'"
done
if on_pg; then
	skip 1 "PostgreSQL's identity ids never repeat"
else
	is "$(cat "$T/maxid.2")" "$(cat "$T/maxid.1")" "the second job's rows took the first job's row ids again"
fi
is "$(jq -r 'select(.status == 200) | .json.status' "$H" | grep -c completed)" 2 \
    "the receiver got both finals"
is "$(jq -r '.headers["webhook-id"]' "$H" | sort | uniq -d | wc -l)" 0 \
    "no webhook-id was seen twice across both jobs"
is "$(q "SELECT count(*) FROM webhook_deliveries WHERE $(on_pg && echo "webhook_id !~ '^case-again-[0-9a-f]'" || echo "webhook_id NOT GLOB 'case-again-[0-9a-f]*'") AND case_id = 'case-again'")" 0 \
    "ids read caseId-random, as imagegen(8) says"

done_testing
