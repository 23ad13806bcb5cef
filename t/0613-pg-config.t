#!/bin/sh
# database = postgresql://...: what an operator gets wrong is said in one
# line, at start-up and by imagegen config, with what to do: a password in
# the URI (refused before anything connects, and never printed), a wrong
# password, a database that does not exist, a database without the schema.
# imagegen initdb makes the schema, under an advisory lock: two hosts
# running it at once make it once.
. "$(dirname "$0")/lib.sh"
pg_test

write_config
uri=$TEST_DATABASE
conf() {
	sed "s|^database = .*|database = $1|" "$T/imagegen.conf" > "$T/other.conf"
	chmod 600 "$T/other.conf"
}
# A log line's message, without its time and pid.
said() { sed 's/^[0-9T:.-]*Z imagegen\[[0-9]*\] [a-z]*: //' "$T/out"; }
run() { "$IMAGEGEN" -c "$T/other.conf" "$@" > "$T/out" 2>&1; }

# A password in the URI: refused, and the password is never said.
conf "postgresql://imagegen:hunter2-secret@127.0.0.1:$PG_PORT/imagegen"
run config
is "$?" 1 "a password in the URI: imagegen config exits 1"
check "... saying where the password goes" grep -q 'database: the URI holds a password: take it out, and give it in ~/.pgpass' "$T/out"
check "... without the password" sh -c "! grep -q hunter2 '$T/out'"
conf "postgresql://imagegen@127.0.0.1:$PG_PORT/imagegen?password=hunter2-secret"
run config
is "$?/$(grep -c hunter2 "$T/out")" 1/0 "password= in its query: the same"

# A wrong password: libpq finds it in the passfile, the server refuses it.
printf '127.0.0.1:%s:*:imagegen:wrong\n' "$PG_PORT" > "$T/wrongpass"
chmod 600 "$T/wrongpass"
conf "postgresql://imagegen@127.0.0.1:$PG_PORT/imagegen?passfile=$T/wrongpass"
run config
is "$?/$(wc -l < "$T/out" | tr -d ' ')" 1/1 "a wrong password: imagegen config exits 1, with one line"
check "... naming the refusal and where the password goes" \
    grep -q 'cannot connect to .*password authentication failed for user "imagegen": give the password in ~/.pgpass' "$T/out"
run jobs
is "$?" 1 "imagegen jobs exits 1 too"

# A database that does not exist.
conf "postgresql://imagegen@127.0.0.1:$PG_PORT/nosuchdb?passfile=$PGPASSFILE"
run config
is "$?/$(wc -l < "$T/out" | tr -d ' ')" 1/1 "no such database: imagegen config exits 1, with one line"
check "... saying to create it" grep -q 'database "nosuchdb" does not exist: create the role and the database' "$T/out"

# An empty database: no schema until initdb.
echo "CREATE DATABASE empty OWNER imagegen;" | pg_super >/dev/null || bail "cannot create a database"
conf "postgresql://imagegen@127.0.0.1:$PG_PORT/empty?passfile=$PGPASSFILE"
run config
is "$?/$(said)" "1/store: postgresql://imagegen@127.0.0.1:$PG_PORT/empty?passfile=$PGPASSFILE: no imagegen schema: run imagegen initdb" \
    "no schema: imagegen config exits 1, saying to run initdb"
run show case-x
is "$?" 1 "imagegen show exits 1 too"
# Two initdb at once, as two hosts starting: one makes the schema.
"$IMAGEGEN" -c "$T/other.conf" initdb > "$T/init1" 2>&1 & p1=$!
"$IMAGEGEN" -c "$T/other.conf" initdb > "$T/init2" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
is "$r1/$r2" 0/0 "two initdb at once both succeed"
v=$(ls "$top_srcdir"/sql/0*.sql | wc -l)
is "$(cat "$T/init1" "$T/init2" | sed 's/.*: schema version //' | sort | tr '\n' ' ')" \
    "$v $v (up to date) " "... one makes the schema, at version $v, the other finds it made"
is "$(pg_sql -d empty -At -c 'SELECT count(*), min(version) FROM schema_version')" "1|$v" \
    "... once"
run config
is "$?" 0 "then imagegen config passes"
check "... and prints the URI as written, no password in it" \
    grep -q "^database = postgresql://imagegen@127.0.0.1:$PG_PORT/empty?passfile=" "$T/out"

# The responder with a wrong password: one line at start-up, 503 meanwhile.
set_config "database = postgresql://imagegen@127.0.0.1:$PG_PORT/imagegen?passfile=$T/wrongpass"
start_imagegen
start_nginx
http GET /api/case-images/case-x
is "$CODE/$(json .error)" "503/the database is unavailable" "the responder answers 503"
check "... with Retry-After" test -n "$(header Retry-After)"
http GET /api/case-images/case-y
is "$(grep -c "imagegen\[$IMAGEGEN_PID\] error: .*password authentication failed" "$T/imagegen.log")" 1 \
    "its log says why once, not once a request"

done_testing
