#!/bin/sh
# ./demo.sh stop stops what its demo started and nothing else: a pid in
# the demo's list that is not the demo's own (a pid reused since a reboot,
# another demo's) lives on. IMAGEGEN_DEMO_DIR names the demo's folder.
. "$(dirname "$0")/lib.sh"

D=$T/demo
mkdir -p "$D"
sleep 300 &
OTHER=$!
# The demo's own: its command line names the demo's folder, as nginx's -p does.
"$PYTHON3" -c 'import time; time.sleep(300)' "$D/nginx.conf" &
OWN=$!
PIDS="$PIDS $OTHER $OWN"
echo "$OTHER $OWN" > "$D/pids"
IMAGEGEN_DEMO_DIR=$D sh "$top_srcdir/demo.sh" stop > "$T/out" 2>&1
is "$?/$(cat "$T/out")" "0/demo stopped ($D)" "./demo.sh stop says which demo it stopped"
check "... it stops the demo's own process" wait_for 10 exited "$OWN"
check "... and leaves another's alive" kill -0 "$OTHER"
check "... and forgets the list" test ! -e "$D/pids"

done_testing
