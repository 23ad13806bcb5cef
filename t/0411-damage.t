#!/bin/sh
# Damage is loud. A database file deleted by mistake is recreated empty
# with a warn line naming it; a -wal cut short gets a line saying commits
# were lost; a read-only file makes initdb and reap exit 1; a corrupted
# page fails PRAGMA quick_check at start-up, with a line, and every route
# answers 503 instead of a 500 each.
. "$(dirname "$0")/lib.sh"
sqlite_only "the file itself: a deleted, cut, read-only or corrupted SQLite file"

start_stack
DB=$T/imagegen.db
MOUNTS=
before_cleanup 'for m in $MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done'
stop_responder() {	# stop_responder [SIGNAL]: the responder only, nginx stays
	kill "-${1:-TERM}" "$IMAGEGEN_PID"
	wait_exit "$IMAGEGEN_PID" 20 >/dev/null 2>&1
	rm -f "$T/imagegen.sock"
}
restart_responder() { : > "$T/imagegen.log"; start_imagegen; }
finished() {	# finished CASEID: the job ended and its worker is gone
	is_final "$1" && exited "$(sqlite3 "$DB" "SELECT worker_pid FROM jobs WHERE case_id = '$1'")"
}

make_case case-a 1 1
post_json /api/generate-case-images "$T/case-a.json"
check "case-a finishes" wait_for 30 finished case-a

# 1. The database deleted while the responder is stopped; a backup made
# while it ran brings it back.
"$IMAGEGEN" backup "$T/saved.db" > "$T/out" 2> "$T/err"
is "$?" 0 "imagegen backup exits 0"
check "... saying what it copied" grep -q "^$T/saved.db: a consistent copy of $DB, [0-9]* pages" "$T/out"
stop_responder
rm -f "$DB" "$DB-wal" "$DB-shm"
restart_responder
http GET /api/case-images/case-a
is "$CODE" 404 "a deleted database comes back empty: case-a is unknown"
check "... with a warn line naming the file" \
    grep -q "warn.*store: $DB did not exist: creating a new, empty database" "$T/imagegen.log"
stop_responder
# As imagegen(8) says to restore: the copy in place, no -wal or -shm of
# the empty database left beside it (a -wal would be replayed onto it).
rm -f "$DB-wal" "$DB-shm"
cp "$T/saved.db" "$DB"
restart_responder
http GET /api/case-images/case-a
is "$CODE" 200 "the restored file has case-a again"
check "... and no such line" sh -c "! grep -q 'did not exist' '$T/imagegen.log'"

# 2. A -wal cut short: the responder dies with case-b's commits in the
# -wal, which then loses its last bytes.
make_case case-b 1 1
post_json /api/generate-case-images "$T/case-b.json"
check "case-b finishes" wait_for 30 finished case-b
stop_responder KILL
size=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)
check "the -wal holds case-b's commits ($size bytes)" test "$size" -gt 4096
truncate -s $((size - 1000)) "$DB-wal"
restart_responder
http GET /api/case-images/case-b
check "a cut -wal loses the last commits: case-b is not completed now" \
    test "$(json .status 2>/dev/null)" != completed
check "... and the log says so, and what to do" \
    grep -q "error.*store: $DB-wal is cut short.*is lost.*imagegen backup" "$T/imagegen.log"
http GET /api/case-images/case-a
is "$CODE/$(json .status)" 200/completed "what was checkpointed before is whole"
stop_responder

# 3. A read-only file: initdb and reap fail, and say why.
mkdir -p "$T/ro"
if mount -t tmpfs -o size=16m tmpfs "$T/ro" 2>/dev/null; then
	MOUNTS="$T/ro"
	cp "$DB" "$T/ro/imagegen.db"
	mount -o remount,ro "$T/ro"
	sed "s|^database = .*|database = $T/ro/imagegen.db|" "$T/imagegen.conf" > "$T/ro.conf"
	IMAGEGEN_CONFIG=$T/ro.conf "$IMAGEGEN" initdb > "$T/out" 2> "$T/err"
	is "$?" 1 "initdb on a read-only database exits 1"
	check "... saying it is read-only" grep -q "$T/ro/imagegen.db is read-only" "$T/err"
	IMAGEGEN_CONFIG=$T/ro.conf "$IMAGEGEN" reap > "$T/out" 2> "$T/err"
	is "$?" 1 "reap on a read-only database exits 1"
	check "... saying it is read-only" grep -q "read-only" "$T/err"
	# The same file under CGI: no bare 500, and a line in the log.
	: > "$T/imagegen.log"
	env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST REQUEST_URI=/api/generate-case-images \
	    SCRIPT_NAME= CONTENT_TYPE=application/json CONTENT_LENGTH="$(wc -c < "$T/case-b.json")" \
	    HTTP_AUTHORIZATION="Bearer $API_TOKEN" IMAGEGEN_CONFIG="$T/ro.conf" \
	    "$IMAGEGEN" < "$T/case-b.json" > "$T/out" 2> "$T/err"
	is "$(tr -d '\r' < "$T/out" | sed -n 's/^Status: //p')" "503 Service Unavailable" \
	    "generate as CGI on a read-only database answers 503"
	check '... {"error":"the database is read-only"}' grep -q '{"error":"the database is read-only"}' "$T/out"
	check "... and the log names the file and what to do" \
	    grep -q "store: $T/ro/imagegen.db is read-only: imagegen can record nothing; make the file" "$T/imagegen.log"
else
	skip 7 "cannot mount tmpfs"
fi

# 4. A corrupted page: quick_check at start-up, one line, 503 everywhere.
pages=$(sqlite3 "$DB" "PRAGMA page_count")
dd if=/dev/urandom of="$DB" bs=4096 seek=2 count=$((pages - 2)) conv=notrunc 2>/dev/null
restart_responder
http GET /api/case-images/case-a
is "$CODE" 503 "a damaged database: status answers 503"
is "$(jsonc .)" '{"error":"the database is damaged"}' '... {"error":"the database is damaged"}'
post_json /api/generate-case-images "$T/case-a.json"
is "$CODE" 503 "generate answers 503"
http GET /api/metrics/image-generation
is "$CODE" 503 "metrics answers 503"
check "the responder said why, once, at start-up" \
    test "$(grep -c "store: $DB is damaged (.*): every request is answered 503" "$T/imagegen.log")" = 1
check "no request was answered 500" sh -c "! grep -q ' 500 ' '$T/nginx-access.log'"
"$IMAGEGEN" jobs > "$T/out" 2> "$T/err"
is "$?" 1 "imagegen jobs exits 1"
check "... saying the file is damaged" grep -q "$DB is damaged" "$T/err"

done_testing
