#!/bin/sh
# POST /api/webhook/image-progress: progress from a worker elsewhere (the
# reference's TypeScript worker or another imagegen) updates this host's rows.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 60" start_stack "webhook_verify_secrets = $HOOK_SECRET" \
    "image_url_allow = https://cdn.example/"
# Jobs whose local workers are stopped at once: only the webhook moves them.
submit_orphan() {
	make_case "$1" 2 1
	post_json /api/generate-case-images "$T/$1.json"
	wait_for 10 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT status FROM jobs WHERE case_id = '$1'\")\" = generating ]"
	kill_worker "$1"
}
# While one runs: the worker is detached from the responder that forked it.
make_case case-probe 1 1
post_json /api/generate-case-images "$T/case-probe.json"
wait_for 10 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT status FROM jobs WHERE case_id = 'case-probe'\")\" = generating ]"
wp=$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-probe'")
is "$(ps -o ppid= -p "$wp" | tr -d ' ')" 1 "the worker is re-parented to init (double fork)"
check "the worker has a session of its own (setsid)" \
    test "$(ps -o sid= -p "$wp")" != "$(ps -o sid= -p "$IMAGEGEN_PID")"
is "$(readlink /proc/$wp/fd/0 /proc/$wp/fd/1 /proc/$wp/fd/2 | sort -u)" /dev/null \
    "its stdin, stdout and stderr are /dev/null"
inode=$(awk -v p="$T/imagegen.sock" '$8 == p {print $7}' /proc/net/unix | head -1)
check "the responder's listening socket is found (inode $inode)" \
    sh -c "ls -l /proc/$IMAGEGEN_PID/fd | grep -q 'socket:\[$inode\]'"
check "the worker does not hold it" \
    sh -c "! ls -l /proc/$wp/fd | grep -q 'socket:\[$inode\]'"
kill -9 "$wp"

submit_orphan case-remote
submit_orphan case-done

hook() {	# hook JSON
	printf '%s' "$1" > "$T/hook.json"
	post_progress "$T/hook.json"
}

hook '{"caseId":"case-remote","status":"generating","completedImages":1,"totalImages":3,
  "evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg"},"locationImages":{},"failedIds":[]}'
is "$CODE" 200 "a progress update is accepted"
is "$(jsonc .)" '{"success":true}' "... with {\"success\":true}"
is "$(header Content-Type)" application/json "... as JSON"
http GET /api/case-images/case-remote
is "$(json .status)" generating "the job is generating"
is "$(json .completedImages)" 1 "completedImages is 1"
is "$(json '.evidenceImages["ev-0"]')" https://cdn.example/ev-0.jpg "the reported URL is served"
is "$(json '.images[] | select(.id == "ev-0") | .status')" completed "the image row is completed"

hook '{"caseId":"case-remote","status":"partial","completedImages":2,"totalImages":3,
  "evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg","ev-1":"https://cdn.example/ev-1.jpg"},
  "locationImages":{},"failedIds":["loc-0"]}'
is "$CODE" 200 "the final update is accepted"
http GET /api/case-images/case-remote
is "$(json .status)" partial "the job is partial"
is "$(json .completedImages)" 2 "completedImages is 2"
is "$(jsonc .failedIds)" '["loc-0"]' "failedIds has the failed location"
check "completedAt is set" test "$(json '.completedAt // 0')" -gt 0
done_at=$(json .completedAt)

# A late, repeated update from before the end changes nothing it should not.
hook '{"caseId":"case-remote","status":"generating","completedImages":1,"totalImages":3,
  "evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg"},"locationImages":{},"failedIds":[]}'
is "$CODE" 200 "a stale update is answered 200"
http GET /api/case-images/case-remote
is "$(json .status)" partial "... but does not move the job back to generating"
is "$(json .completedImages)" 2 "... nor lower completedImages"
is "$(json .completedAt)" "$done_at" "... nor touch completedAt"

# The reference's worker sends the images inline, as data: URLs: each is
# stored as a file of ours, served by nginx, not kept in the database.
convert -size 512x512 gradient:red-blue "$T/in.jpg"
img="data:image/jpeg;base64,$(base64 -w0 "$T/in.jpg")"
hook "{\"caseId\":\"case-done\",\"status\":\"completed\",\"completedImages\":3,\"totalImages\":3,
  \"evidenceImages\":{\"ev-0\":\"$img\",\"ev-1\":\"$img\"},\"locationImages\":{\"loc-0\":\"$img\"},\"failedIds\":[]}"
is "$CODE" 200 "an update with data: URLs is accepted"
http GET /api/case-images/case-done
is "$(json .status)" completed "the job is completed"
url=$(json '.locationImages["loc-0"]')
check "the data: URL is served as a file of ours ($url)" \
    sh -c "echo '$url' | grep -Eq '^/media/case-done/loc-0-[0-9a-f]{10}[.]jpg$'"
curl -s -o "$T/loc0.jpg" "$BASE$url"
is "$(identify -format '%m %w %h' "$T/loc0.jpg")" "JPEG 512 512" "... which nginx serves"
check "the database holds no data: URL" \
    test "$(db "SELECT count(*) FROM images WHERE url LIKE 'data:%'")" = 0
is "$(db "SELECT status FROM case_image_status WHERE case_id = 'case-done'")" \
    ready "the legacy per-case status says ready"

hook '{"caseId":"no-such-case","status":"generating","completedImages":0,"totalImages":3}'
is "$CODE" 404 "an unknown case is 404"
is "$(jsonc .)" '{"error":"Job not found"}' "... with the reference's error"

for bad in 'not json' '{"caseId":"case-remote"}' \
    '{"caseId":"case-remote","status":"bogus","completedImages":0,"totalImages":3}' \
    '{"caseId":"case-remote","status":"generating","completedImages":"1","totalImages":3}' \
    '{"caseId":"case-remote","status":"generating","completedImages":1,"totalImages":3,"failedIds":[1]}' \
    '{"caseId":"../x","status":"generating","completedImages":1,"totalImages":3}'; do
	hook "$bad"
	is "$CODE" 400 "malformed: $(printf '%s' "$bad" | cut -c1-60)"
done
check "a 400 carries a JSON error" test -n "$(json .error)"
http GET /api/case-images/case-remote
is "$(json .status)/$(json .completedImages)" partial/2 "malformed updates wrote nothing"

# A write that fails inside the update (a trigger refuses it): on
# PostgreSQL it fails inside apply_progress(), the update's one call. The
# whole update is undone, the client gets a JSON error, and the connection
# is sound for the next one. A fresh responder with one thread: the
# failing update is the first on its connection.
submit_orphan case-fault
set_config "threads = 1"
kill "$IMAGEGEN_PID"; wait_exit "$IMAGEGEN_PID" 30 >/dev/null; rm -f "$T/imagegen.sock"
start_imagegen
if on_pg; then
	db "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
	    \$\$ BEGIN RAISE EXCEPTION 'refused by t/0060'; END \$\$;
	    CREATE TRIGGER refuse BEFORE UPDATE ON images FOR EACH ROW EXECUTE FUNCTION refuse();"
else
	db "CREATE TRIGGER refuse BEFORE UPDATE ON images BEGIN
	    SELECT RAISE(ABORT, 'refused by t/0060'); END;"
fi
fault='{"caseId":"case-fault","status":"generating","completedImages":1,"totalImages":3,
  "evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg"},"locationImages":{},"failedIds":[]}'
hook "$fault"
is "$CODE $(jsonc .error)" '500 "internal error"' "an update whose image write fails: 500, in JSON"
is "$(db "SELECT completed_images || '/' || status FROM jobs WHERE case_id = 'case-fault'")" \
    0/generating "... and nothing of it is kept"
check "... the log names the case" grep -q 'case case-fault: cannot apply the progress update' "$T/imagegen.log"
check "... and the database's reason" grep -q 'refused by t/0060' "$T/imagegen.log"
if on_pg; then db "DROP TRIGGER refuse ON images"; else db "DROP TRIGGER refuse"; fi
hook "$fault"
is "$CODE" 200 "the same update once the trigger is gone: 200, on the same connection"
is "$(db "SELECT completed_images FROM jobs WHERE case_id = 'case-fault'")" 1 "... and applied"

# An update that repeats what is known does not write the job's row if
# the job was heard from under a second ago (updated_at, set ahead here,
# so that no slowness of this machine makes it old), and does once it is
# older; one that names a new failed image is news, heard from or not.
ahead=$(( $(date +%s) * 1000 + 600000 ))
old=$(( $(date +%s) * 1000 - 5000 ))
job_row() {	# PostgreSQL's xmin is the transaction that wrote the row last
	if on_pg; then
		db "SELECT xmin || '/' || updated_at FROM jobs WHERE case_id = 'case-fault'"
	else
		db "SELECT updated_at FROM jobs WHERE case_id = 'case-fault'"
	fi
}
db "UPDATE jobs SET updated_at = $ahead WHERE case_id = 'case-fault'"
before=$(job_row)
hook "$fault"
is "$CODE" 200 "a repeat is answered 200"
is "$(job_row)" "$before" "... and leaves the job's row alone: heard from under a second ago"
hook '{"caseId":"case-fault","status":"generating","completedImages":1,"totalImages":3,
  "evidenceImages":{"ev-0":"https://cdn.example/ev-0.jpg"},"locationImages":{},"failedIds":["loc-0"]}'
is "$CODE/$(db "SELECT failed_images FROM jobs WHERE case_id = 'case-fault'")" 200/1 \
    "a repeat that names a new failed image is applied"
db "UPDATE jobs SET updated_at = $old WHERE case_id = 'case-fault'"
hook "$fault"
check "a repeat to a job last heard from 5 s ago writes its updated_at" \
    test "$(db "SELECT updated_at FROM jobs WHERE case_id = 'case-fault'")" -gt "$old"

# Each signed update forgets the webhook-ids older than the replay
# window: found by their age, not by reading every id of the window.
if on_pg; then
	plan=$(printf 'SET enable_seqscan = off;\nEXPLAIN (COSTS OFF) DELETE FROM webhook_seen WHERE accepted_at < 1;\n' | db)
else
	plan=$(db "EXPLAIN QUERY PLAN DELETE FROM webhook_seen WHERE accepted_at < 1")
fi
case $plan in *webhook_seen_by_time*) found=0 ;; *) found=1; diag "$plan" ;; esac
ok "$found" "old webhook-ids are found by an index on their age"

# PostgreSQL: an operator applies an update by hand with the function the
# route calls (imagegen(8), DATABASE), whose outcome says why when not.
if on_pg; then
	submit_orphan case-hand
	host=$(db "SELECT host_id FROM jobs WHERE case_id = 'case-hand'")
	pid=$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-hand'")
	apply() {	# apply CASE TOTAL DEAD-PID: outcome/worker_pid/news
		db "SELECT outcome || '/' || worker_pid || '/' || coalesce(news, '-')
		    FROM apply_progress('$1', 'generating', $2,
		      floor(extract(epoch FROM now()) * 1000)::bigint,
		      '{\"ev-0\": {\"kind\": \"evidence\", \"url\": \"https://cdn.example/h0.jpg\"}}',
		      '[]', NULL, 0, '$host', $3)"
	}
	is "$(apply case-hand 3 0)" "5/$pid/-" \
	    "a job generating under a worker of this host's: 5, for the caller to judge that worker"
	is "$(apply case-hand 3 "$pid")" "1/$pid/[\"ev-0\"]" "... once it is named dead: applied, ev-0 completed"
	is "$(apply case-hand 3 "$pid")" "1/$pid/-" "the same again: applied, nothing new"
	is "$(apply case-hand 12 "$pid")" "4/$pid/-" "totalImages not the job's: 4"
	is "$(apply case-nowhere 3 0)" "0/0/-" "no such job: 0"
	is "$(db "SELECT completed_images || '/' || status FROM jobs WHERE case_id = 'case-hand'")" \
	    1/generating "the job's counts are its rows'"
fi

done_testing
