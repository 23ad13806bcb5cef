#!/bin/sh
# Failover: a primary and a streaming standby (pg_basebackup -R) on
# loopback; the hosts on libpq's multi-host URI with
# target_session_attrs=read-write. The primary stopped mid-run and the
# standby promoted, the hosts carry on: every case completes, and every
# image whose commit was acknowledged before is there.
. "$(dirname "$0")/lib.sh"
pg_test
. "$top_srcdir/t/hosts.sh"

start_mock --latency-min 0.2 --latency-max 0.5 --size 600
test_database
start_standby
MULTI="postgresql://imagegen@127.0.0.1:$PG_PORT,127.0.0.1:$STANDBY_PORT/imagegen?target_session_attrs=read-write&passfile=$PGPASSFILE"
start_hosts 2 1 "database = $MULTI" "concurrency = 3" "heartbeat_interval = 1"
submit_cases 8 10 4
midway() { [ "$(db "SELECT sum(completed_images) FROM jobs")" -ge 30 ]; }
check "the hosts are at work (30 images of 112 made)" wait_for 60 midway
pg_stop
# What the primary acknowledged: its last answer, before it stopped.
acked=$("$PG_BIN/psql" -X -At -h "$STANDBY_SOCKDIR" -p "$STANDBY_PORT" -U imagegen -d imagegen \
    -c "SELECT case_id || '/' || item_id FROM images WHERE status = 'completed' ORDER BY 1")
promote_standby
all_final() { [ "$(db "SELECT count(*) FROM jobs WHERE status = 'completed'")" = 8 ]; }
check "every case completes on the promoted standby" wait_for 120 all_final
is "$(db "SELECT sum(completed_images) FROM jobs")" 112 "... all 112 images"
lost=0
for p in $acked; do
	[ "$(db "SELECT status FROM images WHERE case_id || '/' || item_id = '$p'")" = completed ] ||
	    lost=$((lost + 1))
done
is "$lost" 0 "every image committed before the primary stopped ($(echo $acked | wc -w)) is there"
is "$(bad_pictures)" 0 "every picture is a whole 512x512 JPEG, from the new primary"
is "$(responders_alive)" 2 "both hosts' responders carried on"

done_testing
