#!/bin/sh
# sql/pg/schema.sql is SQLite's schema (sql/0*.sql, all applied) less the
# state-host dispatch, on a real PostgreSQL from t/pg.sh: the same tables
# and views with the same columns in the same order, the same keys,
# indexes, foreign keys, checks and triggers; the same statements on both
# leave the same rows, versions, past runs and past failures, and the
# views show the same. Also: t/pg.sh's cluster asks for a password over
# TCP and takes it from PGPASSFILE, restarts and stops on its port with
# its data, and is stopped by a test that fails.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/pg.sh"

skip_all() { echo "1..0 # SKIP $*"; trap - EXIT; rm -rf "$T"; exit 0; }
grep -q '^SANITIZER_CFLAGS = -f' "$top_builddir/Makefile" 2>/dev/null &&
    skip_all "runs no C code: the plain suite runs it"
command -v sqlite3 >/dev/null || bail "sqlite3 is missing (deps.sh installs it)"

# The dispatch's tables and columns (migrations 16-18) are left out.
DISPATCH="'dispatches','dispatch_reaper','dispatch_jobs','dispatch_handed','dispatch_updates'"
LITE=$T/lite.db
for f in "$top_srcdir"/sql/0*.sql; do
	sqlite3 -bail "$LITE" < "$f" || bail "sqlite3: $f failed"
done
lite() { sqlite3 -bail -batch -noheader -separator '|' -cmd 'PRAGMA foreign_keys = ON' "$LITE" "$@"; }

t0=$(date +%s%N)
start_pg
diag "start_pg: $PG_START_MS ms"
PSQL="$PG_BIN/psql -X -q -v ON_ERROR_STOP=1"
# A session time zone far from UTC: the views must not depend on it.
pg() { PGTZ=Pacific/Chatham $PSQL -At -F '|' "$PG_URI" "$@"; }

# 1. The file applies as the role imagegen, over TCP, with the password
# from PGPASSFILE; without it the server refuses.
out=$(PGPASSFILE=$T/none $PSQL -w "$PG_URI" -c 'SELECT 1' 2>&1)
case $out in *"no password supplied"*) r=0 ;; *) r=1; diag "$out" ;; esac
ok $r "over TCP the cluster asks for the password"
$PSQL --single-transaction -f "$top_srcdir/sql/pg/schema.sql" "$PG_URI" > "$T/apply.out" 2>&1
r=$?; [ $r -eq 0 ] || sed 's/^/#   /' "$T/apply.out"
ok $r "schema.sql applies with ON_ERROR_STOP, as imagegen, password from PGPASSFILE"
is "$(cat "$T/apply.out")" "" "and says nothing (no notice, no warning)"
is "$(pg -c 'SELECT version FROM schema_version')" 20 "schema_version says 20"
$PSQL --single-transaction -f "$top_srcdir/sql/pg/schema.sql" "$PG_URI" > "$T/again.out" 2>&1
check "applied again, it fails" test $? -ne 0
is "$(pg -c 'SELECT count(*) || $$ $$ || min(version) FROM schema_version')" "1 20" \
    "and leaves the one row of schema_version as it was"
check "schema_version holds one row" sh -c "! $PSQL '$PG_URI' -c \
    'INSERT INTO schema_version VALUES (21, 0)' 2>/dev/null"
is "$(pg_sql -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'imagegen'")" 0 \
    "imagegen owns every table (pg_sql, over the socket)"
is "$(pg -c "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'
    AND column_name IN ('case_id', 'item_id') AND collation_name IS DISTINCT FROM 'C'")" 0 \
    "case_id and item_id sort byte by byte, as in SQLite, whatever the database's locale"

# The later migrations' twins, each with its version, as imagegen initdb
# applies them: the two schemas are compared at the same version.
for f in "$top_srcdir"/sql/pg/0*.sql; do
	[ -f "$f" ] || continue
	v=$(basename "$f" | sed 's/^0*\([0-9][0-9]*\)-.*/\1/')
	{ cat "$f"; echo "UPDATE schema_version SET version = $v;"; } |
	    $PSQL --single-transaction -f - "$PG_URI" > "$T/twin.out" 2>&1 ||
	    { sed 's/^/#   /' "$T/twin.out"; bail "$f does not apply"; }
done
is "$(pg -c 'SELECT version FROM schema_version')" "$(ls "$top_srcdir"/sql/0*.sql | wc -l)" \
    "with its twins, PostgreSQL's schema is at SQLite's version"

# 2. The same objects. Each side prints lines that must be equal.
compare() {	# compare WHAT SQLITE-QUERY PG-QUERY
	lite "$2" > "$T/lite.out" 2>&1
	pg -c "$3" > "$T/pg.out" 2>&1
	if cmp -s "$T/lite.out" "$T/pg.out" && [ -s "$T/lite.out" ]; then
		ok 0 "$1"
	else
		ok 1 "$1"
		diff "$T/lite.out" "$T/pg.out" | sed 's/^/#   /'
	fi
}

compare "the same tables and views" \
    "SELECT type, name FROM sqlite_schema WHERE type IN ('table', 'view')
       AND name NOT IN ($DISPATCH) ORDER BY name" \
    "SELECT CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END, table_name
       FROM information_schema.tables WHERE table_schema = 'public'
        AND table_name <> 'schema_version' ORDER BY table_name COLLATE \"C\""

# Column by column, in order: name, NOT NULL (a key's column is, in
# both), default. PostgreSQL's provider_checks.id is SQLite's rowid.
compare "the same columns, in the same order, with the same NOT NULL and defaults" \
    "SELECT m.name, c.name, CASE WHEN c.\"notnull\" OR c.pk > 0 THEN 1 ELSE 0 END,
            coalesce(c.dflt_value, '')
       FROM sqlite_schema m, pragma_table_info(m.name) c
      WHERE m.type IN ('table', 'view') AND m.name NOT IN ($DISPATCH)
        AND NOT (m.name = 'images' AND c.name = 'worker_host')
      ORDER BY m.name, c.cid" \
    "SELECT table_name, column_name, CASE is_nullable WHEN 'NO' THEN 1 ELSE 0 END,
            coalesce(regexp_replace(column_default, '::[a-z ]+\$', ''), '')
       FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> 'schema_version'
        AND NOT (table_name = 'provider_checks' AND column_name = 'id')
      ORDER BY table_name COLLATE \"C\", ordinal_position"

compare "the same primary keys" \
    "SELECT m.name, (SELECT group_concat(name, ',') FROM (SELECT name FROM
            pragma_table_info(m.name) WHERE pk > 0 ORDER BY pk))
       FROM sqlite_schema m WHERE m.type = 'table' AND m.name NOT IN ($DISPATCH)
        AND m.name <> 'api_calls' AND m.name <> 'past_runs' AND m.name <> 'past_failures'
        AND m.name <> 'provider_checks' ORDER BY m.name" \
    "SELECT t.relname, (SELECT string_agg(a.attname, ',' ORDER BY k.n)
              FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, n)
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
      WHERE c.contype = 'p' AND t.relnamespace = 'public'::regnamespace
        AND t.relname <> 'provider_checks' ORDER BY t.relname COLLATE \"C\""
is "$(lite "SELECT group_concat(name, ' ') FROM (SELECT m.name FROM sqlite_schema m
    WHERE m.type = 'table' AND m.name NOT IN ($DISPATCH)
      AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE pk > 0) ORDER BY 1)")" \
    "api_calls past_failures past_runs provider_checks" \
    "the tables without a key in SQLite are those four (provider_checks gets one for its rowid)"

compare "the same indexes: table, unique, partial, columns" \
    "SELECT m.name, m.tbl_name, l.\"unique\", l.partial,
            (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(m.name) ORDER BY seqno))
       FROM sqlite_schema m JOIN pragma_index_list(m.tbl_name) l ON l.name = m.name
      WHERE m.type = 'index' AND m.sql IS NOT NULL AND m.tbl_name NOT IN ($DISPATCH)
      ORDER BY m.name" \
    "SELECT c.relname, t.relname, i.indisunique::int, (i.indpred IS NOT NULL)::int,
            (SELECT string_agg(a.attname, ',' ORDER BY k.n)
               FROM unnest(i.indkey) WITH ORDINALITY AS k (attnum, n)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relnamespace = 'public'::regnamespace AND NOT i.indisprimary
        AND c.relname <> 'schema_version_one_row'
      ORDER BY c.relname COLLATE \"C\""

compare "the same foreign keys, each ON DELETE CASCADE" \
    "SELECT m.name, f.\"from\", f.\"table\", f.\"to\", f.on_delete
       FROM sqlite_schema m, pragma_foreign_key_list(m.name) f
      WHERE m.type = 'table' AND m.name NOT IN ($DISPATCH) ORDER BY m.name, f.\"from\"" \
    "SELECT t.relname, a.attname, r.relname, ra.attname,
            CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'a' THEN 'NO ACTION' ELSE c.confdeltype::text END
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
       CROSS JOIN LATERAL generate_subscripts(c.conkey, 1) AS k
       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[k]
       JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[k]
      WHERE c.contype = 'f' AND t.relnamespace = 'public'::regnamespace
      ORDER BY t.relname COLLATE \"C\", a.attname COLLATE \"C\""

compare "the same triggers, on the same tables" \
    "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name" \
    "SELECT g.tgname, t.relname FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid
      WHERE NOT g.tgisinternal AND t.relnamespace = 'public'::regnamespace
      ORDER BY g.tgname COLLATE \"C\""

compare "the same rows to start with (maintenance)" \
    "SELECT * FROM maintenance" "SELECT * FROM maintenance"

# Every CHECK refuses on both what it refuses on one.
NOW=$(($(date +%s) * 1000))
JOB="INSERT INTO jobs (case_id, total_images, request_hash, created_at, updated_at)"
IMG="INSERT INTO images (case_id, item_id, kind, position, name, description)"
k0="$JOB VALUES ('k0', 1, 'h', 1, 1); $IMG VALUES ('k0', 'ev-0', 'evidence', 0, 'n', 'd')"
lite "$k0"; pg -c "$k0"
bad=0 n=0
while IFS= read -r stmt; do
	n=$((n + 1))
	lite "$stmt" 2>/dev/null && { bad=$((bad + 1)); diag "SQLite takes: $stmt"; }
	pg -c "$stmt" 2>/dev/null && { bad=$((bad + 1)); diag "PostgreSQL takes: $stmt"; }
done <<EOF
$JOB VALUES ('k1', 0, 'h', 1, 1)
INSERT INTO jobs (case_id, status, total_images, request_hash, created_at, updated_at) VALUES ('k1', 'done', 1, 'h', 1, 1)
$JOB VALUES ('k1', 1, NULL, 1, 1)
$IMG VALUES ('no-such-case', 'ev-0', 'evidence', 0, 'n', 'd')
$IMG VALUES ('k0', 'ev-1', 'photo', 1, 'n', 'd')
$IMG VALUES ('k0', 'ev-0', 'evidence', 0, 'n', 'd')
UPDATE images SET status = 'done' WHERE case_id = 'k0'
INSERT INTO webhook_deliveries (case_id, event, url, payload, status, created_at) VALUES ('k0', 'start', 'u', '{}', 'sent', 1)
INSERT INTO webhook_deliveries (case_id, event, url, payload, status, created_at) VALUES ('no-such-case', 'start', 'u', '{}', 'pending', 1)
INSERT INTO provider_checks (provider, model, ok, detail, checked_at) VALUES ('gemini', 'm', 2, 'x', 1)
INSERT INTO models (provider, model, retired_kind, updated_at) VALUES ('gemini', 'm', 'gone', 1)
INSERT INTO maintenance (name, last_run) VALUES ('reap', 1)
EOF
is "$bad" 0 "$n bad rows (a check, a foreign key, NOT NULL, a key) refused by both"
lite "DELETE FROM jobs WHERE case_id = 'k0'"; pg -c "DELETE FROM jobs WHERE case_id = 'k0'"

# 3. The same statements on both, as the product and an operator make
# them: the triggers and the views must leave and show the same.
cat > "$T/life.sql" <<EOF
$JOB VALUES ('c1', 3, 'h1', $NOW - 100000, $NOW - 100000);
$IMG VALUES ('c1', 'ev-0', 'evidence', 0, 'Evidence 0', 'a knife');
$IMG VALUES ('c1', 'ev-1', 'evidence', 1, 'Evidence 1', 'a rope');
$IMG VALUES ('c1', 'loc-0', 'location', 2, 'Location 0', 'a hall');
-- queued, then claimed: one version for the two columns that move
UPDATE jobs SET queued_at = $NOW - 30000 WHERE case_id = 'c1';
UPDATE jobs SET status = 'generating', queued_at = NULL, started_at = $NOW - 60000,
       worker_pid = 4242, heartbeat_at = $NOW - 5000 WHERE case_id = 'c1';
-- a heartbeat, and a claim that repeats what is known: no new version
UPDATE jobs SET heartbeat_at = $NOW - 4000, updated_at = $NOW WHERE case_id = 'c1';
UPDATE jobs SET status = 'generating', completed_images = 0 WHERE case_id = 'c1';
UPDATE images SET status = 'generating', attempts = 1, started_at = $NOW - 59000 WHERE case_id = 'c1' AND item_id = 'ev-0';
UPDATE images SET status = 'completed', finished_at = $NOW - 50000, bytes = 51234, api_ms = 812,
       provider = 'gemini', model = 'gemini-a', path = 'c1/ev-0.jpg', url = '/media/c1/ev-0.jpg'
 WHERE case_id = 'c1' AND item_id = 'ev-0';
UPDATE jobs SET completed_images = 1 WHERE case_id = 'c1';
UPDATE images SET status = 'failed', attempts = 3, last_error = 'HTTP 500', api_ms = 1204,
       provider = 'gemini', model = 'gemini-a', finished_at = $NOW - 40000
 WHERE case_id = 'c1' AND item_id = 'ev-1';
UPDATE jobs SET failed_images = 1 WHERE case_id = 'c1';
UPDATE images SET status = 'completed', attempts = 1, provider = 'openai', model = 'gpt-image-1',
       finished_at = $NOW - 30000 WHERE case_id = 'c1' AND item_id = 'loc-0';
UPDATE jobs SET status = 'partial', completed_images = 2, completed_at = $NOW - 29000,
       last_error = '1 of 3 images failed' WHERE case_id = 'c1';
-- the man page's retry by hand: a past failure, then a past run
UPDATE images SET status = 'pending', last_error = NULL
 WHERE case_id = 'c1' AND item_id = 'ev-1' AND status = 'failed';
UPDATE jobs SET status = 'pending', retry_count = retry_count + 1,
       last_error = NULL, completed_at = NULL,
       failed_images = (SELECT count(*) FROM images WHERE case_id = 'c1' AND status = 'failed')
 WHERE case_id = 'c1' AND status IN ('partial', 'failed');
-- the second run fails it again; a webhook report completes it
UPDATE jobs SET status = 'generating', started_at = $NOW - 20000, heartbeat_at = $NOW - 5000 WHERE case_id = 'c1';
UPDATE images SET status = 'failed', attempts = 2, last_error = 'timeout' WHERE case_id = 'c1' AND item_id = 'ev-1';
UPDATE images SET status = 'completed', attempts = attempts + 1, last_error = NULL, provider = 'remote'
 WHERE case_id = 'c1' AND item_id = 'ev-1';
UPDATE jobs SET completed_images = 3, failed_images = 0 WHERE case_id = 'c1';
-- a writer that sets the version itself is left alone
UPDATE jobs SET version = version + 10, last_error = 'set by hand' WHERE case_id = 'c1';
-- c2: completed; every row of one statement moves the version
$JOB VALUES ('c2', 2, 'h2', $NOW - 90000, $NOW - 90000);
$IMG VALUES ('c2', 'ev-0', 'evidence', 0, 'E', 'd');
$IMG VALUES ('c2', 'loc-0', 'location', 1, 'L', 'd');
UPDATE jobs SET status = 'generating', started_at = $NOW - 80000 WHERE case_id = 'c2';
UPDATE images SET status = 'completed', attempts = 1 WHERE case_id = 'c2';
UPDATE jobs SET status = 'completed', completed_images = 2, completed_at = $NOW - 67655 WHERE case_id = 'c2';
-- c3: queued, then cancelled
$JOB VALUES ('c3', 1, 'h3', $NOW - 70000, $NOW - 70000);
$IMG VALUES ('c3', 'ev-0', 'evidence', 0, 'E', 'd');
UPDATE jobs SET queued_at = $NOW - 30000 WHERE case_id = 'c3';
UPDATE jobs SET cancel_requested_at = $NOW - 1000 WHERE case_id = 'c3';
-- c4: queued and waiting
$JOB VALUES ('c4', 7, 'h4', $NOW - 60000, $NOW - 60000);
UPDATE jobs SET queued_at = $NOW - 30000 WHERE case_id = 'c4';
-- c6: a third done
$JOB VALUES ('c6', 3, 'h6', $NOW - 40000, $NOW - 40000);
UPDATE jobs SET status = 'generating', started_at = $NOW - 20000, completed_images = 1 WHERE case_id = 'c6';
-- c5: failed, retried, failed again: two past runs; then deleted with all it had
$JOB VALUES ('c5', 1, 'h5', $NOW - 50000, $NOW - 50000);
$IMG VALUES ('c5', 'ev-0', 'evidence', 0, 'E', 'd');
UPDATE jobs SET status = 'failed', failed_images = 1 WHERE case_id = 'c5';
UPDATE jobs SET status = 'generating', retry_count = 1 WHERE case_id = 'c5';
UPDATE jobs SET status = 'failed' WHERE case_id = 'c5';
UPDATE jobs SET status = 'pending', retry_count = 2 WHERE case_id = 'c5';
-- the outbox, the rate limiter, the checks and the models
INSERT INTO webhook_deliveries (case_id, event, url, payload, created_at, webhook_id)
VALUES ('c1', 'start', 'http://h/hook', '{}', $NOW - 60000, 'c1-00000001');
INSERT INTO webhook_deliveries (case_id, event, url, payload, created_at, webhook_id)
VALUES ('c1', 'progress', 'http://h/hook', '{}', $NOW - 50000, 'c1-00000002');
INSERT INTO webhook_deliveries (case_id, event, url, payload, created_at, webhook_id)
VALUES ('c5', 'final', 'http://h/hook', '{}', $NOW - 40000, 'c5-00000003');
UPDATE webhook_deliveries SET status = 'superseded'
 WHERE case_id = 'c1' AND status = 'pending'
   AND id < (SELECT max(d.id) FROM webhook_deliveries d WHERE d.case_id = 'c1');
INSERT INTO api_calls (at, case_id, provider) VALUES ($NOW - 1000, 'c1', 'gemini');
INSERT INTO api_calls (at, case_id) VALUES ($NOW - 900, 'c1');
INSERT INTO provider_checks (provider, model, ok, detail, checked_at) VALUES ('gemini', 'gemini-a', 1, 'ok', $NOW);
INSERT INTO models (provider, model, stage, updated_at) VALUES ('gemini', 'gemini-a', 'STABLE', $NOW)
  ON CONFLICT (provider, model) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at;
INSERT INTO models (provider, model, stage, updated_at) VALUES ('gemini', 'gemini-a', 'DEPRECATED', $NOW + 1)
  ON CONFLICT (provider, model) DO UPDATE SET stage = excluded.stage, updated_at = excluded.updated_at;
INSERT INTO webhook_seen (id, accepted_at) VALUES ('msg-1', $NOW) ON CONFLICT DO NOTHING;
INSERT INTO webhook_seen (id, accepted_at) VALUES ('msg-1', $NOW + 5) ON CONFLICT DO NOTHING;
UPDATE maintenance SET last_run = $NOW WHERE name = 'reap' AND last_run < $NOW;
EOF
lite < "$T/life.sql" > "$T/lite.life" 2>&1
r=$?; [ $r -eq 0 ] || sed 's/^/#   /' "$T/lite.life"
ok $r "SQLite runs the statements"
pg -f "$T/life.sql" > "$T/pg.life" 2>&1
r=$?; [ $r -eq 0 ] || sed 's/^/#   /' "$T/pg.life"
ok $r "PostgreSQL runs the same statements"

same() {	# same WHAT QUERY: the same rows on both
	compare "$1" "$2" "$2"
}
same "jobs: the same status, counters and versions (the status ETag)" \
    "SELECT case_id, status, version, retry_count, completed_images, failed_images, last_error
       FROM jobs ORDER BY case_id"
same "images: the same rows" \
    "SELECT case_id, item_id, status, attempts, last_error, provider, model, api_ms
       FROM images ORDER BY case_id, position"
same "past_runs: the runs the retries replaced" "SELECT * FROM past_runs ORDER BY case_id, run"
same "past_failures: the failures the retry and the report replaced" \
    "SELECT * FROM past_failures ORDER BY case_id, item_id, run, replaced_by"
# What is measured against now is compared as a bound: the two queries
# run a moment apart, some seconds after NOW.
up=$(($(date +%s) - NOW / 1000 + 5))
same "job_progress: the same rows (its times against now within the same bounds)" \
    "SELECT p.case_id, p.status, p.done, p.failed, p.remaining, p.percent, p.created,
            CASE WHEN p.queued IS NULL THEN '-' WHEN p.queued BETWEEN 29.9 AND 30 + $up THEN '30s'
                 ELSE CAST(p.queued AS TEXT) END,
            CASE WHEN j.completed_at IS NOT NULL OR p.seconds IS NULL THEN CAST(p.seconds AS TEXT)
                 WHEN p.seconds BETWEEN 19.9 AND 20 + $up THEN '20s' ELSE CAST(p.seconds AS TEXT) END,
            p.worker_pid,
            CASE WHEN p.heartbeat_age IS NULL THEN '-' WHEN p.heartbeat_age BETWEEN 4.9 AND 5 + $up THEN '5s'
                 ELSE CAST(p.heartbeat_age AS TEXT) END,
            p.retry_count, p.last_error
       FROM job_progress p JOIN jobs j ON j.case_id = p.case_id ORDER BY p.case_id"
same "case_image_status: the same rows" "SELECT * FROM case_image_status ORDER BY case_id"
# Not the ids themselves: a PostgreSQL sequence skips the values of the
# refused inserts above, where SQLite takes the largest id plus one.
same "webhook_deliveries: the same rows in the same order of id" \
    "SELECT case_id, event, status, attempts, webhook_id FROM webhook_deliveries ORDER BY id"
same "api_calls, provider_checks, models, webhook_seen, maintenance: the same rows" \
    "SELECT 'call', CAST(at AS TEXT), case_id, provider FROM api_calls
     UNION ALL SELECT 'check', provider, model, CAST(ok AS TEXT) FROM provider_checks
     UNION ALL SELECT 'model', model, stage, CAST(updated_at AS TEXT) FROM models
     UNION ALL SELECT 'seen', id, CAST(accepted_at AS TEXT), '' FROM webhook_seen
     UNION ALL SELECT 'maint', name, CAST(last_run AS TEXT), '' FROM maintenance ORDER BY 1, 2, 3"

# What SQLite says is also what it should say, so that two wrong schemas
# cannot agree: the claim and the finish moved the version, the heartbeat
# and the repeated claim did not, each image update did.
is "$(lite "SELECT version FROM jobs WHERE case_id = 'c2'")" 5 \
    "c2's version: 1 created, 2 claimed, 4 after one statement updated its 2 images, 5 completed"
is "$(lite "SELECT run || ' ' || replaced_by || ' ' || attempts || ' ' || last_error
    FROM past_failures WHERE case_id = 'c1' ORDER BY run")" "0 pending 3 HTTP 500
1 completed 2 timeout" "c1: the retry's and the report's past failures, each in its run"
is "$(lite "SELECT group_concat(run || ':' || status, ' ') FROM past_runs WHERE case_id = 'c1'")" \
    "0:partial" "c1: the run the retry replaced"
is "$(lite "SELECT done || ' ' || percent || ' ' || seconds FROM job_progress WHERE case_id = 'c2'")" \
    "2/2 100.0 12.3" "job_progress: c2 done in 12.3 s"

# The cascade: deleting a job deletes what it had, on both.
lite "DELETE FROM jobs WHERE case_id = 'c5'"
pg -c "DELETE FROM jobs WHERE case_id = 'c5'"
same "deleting a job deletes its images, runs and deliveries" \
    "SELECT (SELECT count(*) FROM images WHERE case_id = 'c5') || '/' ||
            (SELECT count(*) FROM past_runs WHERE case_id = 'c5') || '/' ||
            (SELECT count(*) FROM webhook_deliveries WHERE case_id = 'c5') || '/' ||
            (SELECT count(*) FROM past_runs)"

# 4. t/pg.sh: a restart and a stop keep the data and the port.
old=$PG_PID
pg_restart
check "pg_restart: a new postmaster" test "$PG_PID" != "$old"
check "the old one is gone" exited "$old"
is "$(pg -c 'SELECT version FROM schema_version')" "$(ls "$top_srcdir"/sql/0*.sql | wc -l)" \
    "the data is there after the restart"
pg_stop
check "pg_stop: refused while it is stopped" sh -c "! $PSQL '$PG_URI' -c 'SELECT 1' 2>/dev/null"
pg_start
is "$(pg -c "SELECT count(*) FROM jobs")" 5 "pg_start: the same port, the same data"

# A test that fails still stops its cluster: this one bails.
top_srcdir=$top_srcdir top_builddir=$top_builddir \
    sh -c ". '$top_srcdir/t/lib.sh'; . '$top_srcdir/t/pg.sh'; start_pg
    echo \"\$PG_PID \$T\" > '$T/child'; bail 'on purpose'" > "$T/child.out" 2>&1
read -r cpid ct < "$T/child" 2>/dev/null
check "a test that bails ran its own cluster" test -n "${cpid:-}"
check "and its cluster is stopped as it exits" exited "${cpid:-0}"
check "and its directory removed" test ! -e "${ct:-/nonexistent}"

diag "start_pg took $PG_START_MS ms; the test $((($(date +%s%N) - t0) / 1000000)) ms"
done_testing
