#!/bin/sh
# imagegen backup FILE: a consistent copy made with SQLite's online backup
# API while workers write, one file (no -wal beside it), checked, and put
# in place only when whole.
. "$(dirname "$0")/lib.sh"
sqlite_only "SQLite's backup API; t/0612 backs PostgreSQL up with pg_dump"

MOCK_ARGS="--latency-min 0.05 --latency-max 0.3" start_stack
q() { sqlite3 "$1" "$2"; }
for c in 1 2; do
	make_case case-bk-$c 10 4
	post_json /api/generate-case-images "$T/case-bk-$c.json"
done
generating() { [ "$(q "$T/imagegen.db" "SELECT count(*) FROM jobs WHERE status = 'generating'")" -ge 1 ]; }
check "workers are writing" wait_for 20 generating
bad=0 n=0
while [ $n -lt 5 ]; do
	n=$((n + 1))
	f=$T/backup-$n.db
	"$IMAGEGEN" backup "$f" > "$T/out" 2> "$T/err" || { bad=$((bad + 1)); diag "backup $n: $(cat "$T/err")"; continue; }
	[ "$(q "$f" "PRAGMA integrity_check")" = ok ] || { bad=$((bad + 1)); diag "backup $n: integrity"; }
	[ "$(q "$f" "PRAGMA journal_mode")" = delete ] || { bad=$((bad + 1)); diag "backup $n: journal mode"; }
	[ ! -e "$f-wal" ] || { bad=$((bad + 1)); diag "backup $n: a -wal beside it"; }
	# A torn copy would have counters that disagree with the rows.
	for c in 1 2; do
		[ "$(q "$f" "SELECT completed_images FROM jobs WHERE case_id = 'case-bk-$c'")" = \
		    "$(q "$f" "SELECT count(*) FROM images WHERE case_id = 'case-bk-$c' AND status = 'completed'")" ] ||
		    { bad=$((bad + 1)); diag "backup $n: case-bk-$c counters"; }
	done
done
is "$bad" 0 "5 backups taken while workers wrote: each whole, one file, consistent"
check "the jobs finish" wait_final case-bk-2 60
wait_final case-bk-1 60
"$IMAGEGEN" backup "$T/last.db" > "$T/out"
is "$(q "$T/last.db" "SELECT group_concat(status || ':' || completed_images, ' ') FROM jobs ORDER BY case_id")" \
    "completed:14 completed:14" "a backup taken after has both jobs done"
sed "s|^database = .*|database = $T/last.db|" "$T/imagegen.conf" > "$T/restored.conf"
IMAGEGEN_CONFIG=$T/restored.conf "$IMAGEGEN" show case-bk-1 > "$T/out" 2>&1
is "$?" 0 "imagegen runs on the backup as its database"
check "... and shows the job" grep -q '^images: *14/14 done' "$T/out"

"$IMAGEGEN" backup > "$T/out" 2> "$T/err"
is "$?" 2 "backup without FILE is a usage error"
check "... which names FILE" grep -q 'usage: imagegen backup FILE' "$T/err"
"$IMAGEGEN" backup "$T/no/such/dir/x.db" > "$T/out" 2> "$T/err"
is "$?" 1 "backup into a missing directory exits 1"
check "... with the reason" grep -q "imagegen: backup $T/no/such/dir/x.db: create:" "$T/err"
is "$(wc -l < "$T/err")" 1 "... said once"
is "$(ls "$T" | grep -c 'tmp-')" 0 "no temporary copy is left"
# With the log on the terminal's stderr too, a backup says its result once.
sed -e 's|^log = .*|log = stderr|' -e 's|^log_level = .*|log_level = info|' \
    "$T/imagegen.conf" > "$T/stderr.conf" && chmod 600 "$T/stderr.conf"
"$IMAGEGEN" -c "$T/stderr.conf" backup "$T/once.db" > "$T/out" 2>&1
is "$?/$(wc -l < "$T/out")" "0/1" "with log = stderr, backup prints one line"
sed 's/^/# /' "$T/out"
"$IMAGEGEN" -c "$T/stderr.conf" backup "$T/no/such/dir/x.db" > "$T/out" 2>&1
is "$?/$(wc -l < "$T/out")" "1/1" "... and one for a failure"
is "$(stat -c %a "$T/last.db")" 600 "a backup is readable by its owner only"

done_testing
