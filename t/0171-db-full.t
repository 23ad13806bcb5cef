#!/bin/sh
# A database that cannot be written mid-case (its filesystem filled, a
# small tmpfs here): the worker makes no paid call after the fault but
# those in flight, keeps their pictures (on disk, and their records in
# memory), and waits; generate and cancel answer 503 with Retry-After and
# the cause; the log names the cause once. Once the fault clears, the
# worker records what it kept and completes the job, with every image
# asked of the provider once in all. A resumed job adopts a whole JPEG of
# a row still pending too.
. "$(dirname "$0")/lib.sh"
sqlite_only "a full filesystem under the SQLite file; PostgreSQL's server is away in t/0610"

mkdir -p "$T/dbfs"
if ! mount -t tmpfs -o size=4m tmpfs "$T/dbfs" 2>/dev/null; then
	echo "1..0 # SKIP cannot mount a tmpfs (needs root)"
	exit 0
fi
before_cleanup "umount -l '$T/dbfs'"
start_mock --latency 0.05 --gate "$T/gate"
write_config "database = $T/dbfs/imagegen.db" "reap_interval = 1" "heartbeat_interval = 1"
ln -s dbfs/imagegen.db "$T/imagegen.db"	# where the helpers look
start_imagegen
start_nginx
q() { db "$1"; }
stats() { curl -s -m 5 "$MOCK_URL/_stats" | jq -r ".$1"; }
# An empty WAL: each commit from here on needs room on the filesystem.
q "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null

# ev-0 answers at once; ev-1..ev-4 wait for gate 1, the rest for gate 2.
gated=""
for i in 1 2 3 4; do gated="$gated ev-$i=gate=1"; done
for i in 5 6 7 8 9; do gated="$gated ev-$i=gate=2"; done
for i in 0 1 2 3; do gated="$gated loc-$i=gate=2"; done
make_case c1 10 4 "" $gated
post_json /api/generate-case-images "$T/c1.json"
is "$CODE" 202 "a 14-image case is accepted"
first_done() { [ "$(q "SELECT completed_images FROM jobs WHERE case_id = 'c1'")" = 1 ] &&
    [ "$(stats inflight)" = 5 ] && [ "$(stats requests)" = 6 ]; }
check "ev-0 is done and 5 requests are in flight (ev-1..ev-5)" wait_for 30 first_done
worker=$(q "SELECT worker_pid FROM jobs WHERE case_id = 'c1'")

# The fault: the filesystem of the database is full.
dd if=/dev/zero of="$T/dbfs/fill" bs=4k 2>/dev/null
touch "$T/gate.1"
said() { grep -q "case c1: the database did not take .*: no paid call until it does" "$T/imagegen.log"; }
check "the worker stops its paid calls, and says so" wait_for 30 said

make_case c2 1 1
post_json /api/generate-case-images "$T/c2.json"
is "$CODE/$(json .error)" "503/the database cannot be written: database or disk is full" \
    "generate answers 503 naming the cause"
check "... with Retry-After" test -n "$(header Retry-After)"
http POST /api/case-images/c1/cancel
is "$CODE/$(json .error)" "503/the database cannot be written: database or disk is full" \
    "cancel answers 503 naming the cause"
check "... with Retry-After" test -n "$(header Retry-After)"
http GET /api/case-images/c1
is "$CODE/$(json .status)" 200/generating "status still answers, from what is recorded"

# What is in flight finishes; ev-5 was held by gate 2.
touch "$T/gate.2"
on_disk() { [ "$(ls "$T/media/c1" | grep -c '\.jpg$')" = 6 ] && [ "$(stats inflight)" = 0 ]; }
check "what was in flight lands on disk" wait_for 60 on_disk
check "... and its worker waits for the database" alive "$worker"
is "$(stats requests)" 6 "no paid call after the fault: 6 requests in all, those in flight"
is "$(ls "$T/media/c1" | grep -c '\.jpg$')" 6 "the 6 pictures made are on disk"
is "$(q "SELECT completed_images || ' ' || status FROM jobs WHERE case_id = 'c1'")" \
    "1 generating" "the job is left unfinished, as recorded before the fault"
is "$(grep "imagegen\[$worker\]" "$T/imagegen.log" | grep -c 'cannot be written (database or disk is full)')" 1 \
    "the worker's log names the cause once"
check "nothing in the log blames memory, counting or recording" \
    sh -c "! grep -E 'out of memory|not counted|cannot record|cannot rollback' '$T/imagegen.log'"
is "$(stats requests)" 6 "... still no paid call while it waits"

# The fault clears: the worker that waited records what it kept, and goes on.
rm -f "$T/dbfs/fill"
check "the job completes once the database can be written" wait_final c1 60
is "$(q "SELECT status || ' ' || completed_images || ' ' || failed_images FROM jobs WHERE case_id = 'c1'")" \
    "completed 14 0" "... with all 14 images"
is "$(jq -r '.prompt' "$T/mock.log" | grep -c 'of case c1')" 14 \
    "the provider was asked 14 times in all"
is "$(jq -r '.prompt' "$T/mock.log" | grep 'of case c1' | sort | uniq -d | wc -l)" 0 \
    "... once for each image"
is "$(grep -c "imagegen\[$worker\].*case c1: image .* done" "$T/imagegen.log")/$(grep -c 'case c1: image .* found on disk' "$T/imagegen.log")" "14/0" \
    "the worker that made them recorded the pictures of the fault: none was left to adopt"
check "... once the database answered again" \
    grep -q "imagegen\[$worker\].*case c1: the database answers again" "$T/imagegen.log"
check "the log says the database can be written again" \
    grep -q "store: the database can be written again" "$T/imagegen.log"
post_json /api/generate-case-images "$T/c2.json"
is "$CODE" 202 "generate answers 202 again"

# A row still pending whose JPEG is on disk (a worker that stopped before
# it recorded the start): adopted, not asked for, by the worker that resumes.
# No sweep meanwhile: the test resumes the job itself.
kill "$IMAGEGEN_PID"; wait_for 10 exited "$IMAGEGEN_PID"; rm -f "$T/imagegen.sock"
set_config "reap_interval = 86400"
start_imagegen
make_case c3 1 1 "" ev-0=gate=3 loc-0=gate=3
post_json /api/generate-case-images "$T/c3.json"
both_out() { [ "$(q "SELECT count(*) FROM images WHERE case_id = 'c3' AND status = 'generating'")" = 2 ] &&
    [ "$(stats inflight)" = 2 ]; }
check "c3's two requests are out, at the provider" wait_for 30 both_out
kill_worker c3
cp "$T/media/c1/ev-0.jpg" "$T/media/c3/ev-0.jpg"
q "UPDATE images SET status = 'pending' WHERE case_id = 'c3' AND item_id = 'ev-0'"
touch "$T/gate.3"
check "the killed worker's requests are over" wait_for 30 sh -c "[ \$(curl -s '$MOCK_URL/_stats' | jq .inflight) = 0 ]"
"$IMAGEGEN" run c3 >/dev/null 2>&1
is "$(q "SELECT status || ' ' || completed_images FROM jobs WHERE case_id = 'c3'")" "completed 2" \
    "c3 completes"
is "$(jq -r '.prompt' "$T/mock.log" | grep -c 'Evidence number 0 of case c3')" 1 \
    "its pending ev-0 was adopted: asked once, by the killed worker"
is "$(jq -r '.prompt' "$T/mock.log" | grep -c 'Location number 0 of case c3')" 2 \
    "its loc-0, not on disk, was asked again"

done_testing
