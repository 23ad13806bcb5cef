#!/bin/sh
# imagegen backup FILE on PostgreSQL: pg_dump's custom format, made while
# workers write, put in place only when whole, readable by its owner only;
# pg_restore brings it back into an empty database, and imagegen runs on
# that. The URI goes to pg_dump as it is: the password stays where libpq
# finds it, never in an argument.
. "$(dirname "$0")/lib.sh"
pg_test

MOCK_ARGS="--latency-min 0.05 --latency-max 0.3" start_stack
for c in 1 2; do
	make_case case-bk-$c 10 4
	post_json /api/generate-case-images "$T/case-bk-$c.json"
done
check "the workers are writing" wait_for 30 sh -c \
    "[ \$('$top_srcdir/t/db' \"SELECT sum(completed_images) FROM jobs\") -gt 0 ]"
"$IMAGEGEN" backup "$T/mid.dump" > "$T/out" 2>&1
is "$?" 0 "backup while the workers write exits 0"
is "$(cat "$T/out")" "$T/mid.dump: a consistent dump of the database (pg_restore reads it)" \
    "... and says what it made, once"
is "$(stat -c %a "$T/mid.dump")" 600 "... readable by its owner only"
check "... and leaves no temporary file" sh -c "! ls '$T'/mid.dump.tmp-* 2>/dev/null"
for c in 1 2; do wait_final case-bk-$c 60 || bail "case-bk-$c did not finish"; done
"$IMAGEGEN" backup "$T/last.dump" >/dev/null 2>&1 || bail "the second backup failed"

echo "CREATE DATABASE restored OWNER imagegen;" | pg_super >/dev/null || bail "cannot create a database"
"$PG_BIN/pg_restore" -h "$PG_SOCKDIR" -p "$PG_PORT" -U imagegen -d restored --no-owner \
    "$T/last.dump" > "$T/restore.out" 2>&1
is "$?" 0 "pg_restore reads it into an empty database"
sed "s|/imagegen?passfile|/restored?passfile|" "$T/imagegen.conf" > "$T/restored.conf"
chmod 600 "$T/restored.conf"
"$IMAGEGEN" -c "$T/restored.conf" jobs > "$T/jobs" 2>&1
is "$?" 0 "imagegen runs on the restored database"
is "$(grep -c '^case-bk-[12] *completed' "$T/jobs")" 2 "... which holds both cases, completed"
is "$(pg_sql -d restored -At -c 'SELECT version FROM schema_version')" \
    "$(ls "$top_srcdir"/sql/0*.sql | wc -l)" "... at the schema's version"

# A failure is said, and leaves nothing behind.
"$IMAGEGEN" backup "$T/nodir/x.dump" > "$T/out" 2>&1
is "$?" 1 "a backup into a missing directory exits 1"
check "... saying so" grep -q "backup $T/nodir/x.dump: create: No such file or directory" "$T/out"

done_testing
