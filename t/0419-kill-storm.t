#!/bin/sh
# The kill storm: workers SIGKILLed again and again, at random moments and
# preferably while a progress update of theirs is pending, resumed by
# `imagegen reap`; a receiver that answers slowly. At least 100 kills
# across 10 cases. No image may be lost, each case's last update must be
# its final, and nothing may arrive after it or older than what came
# before. The figures go to the TAP diagnostics: kills, images lost,
# out-of-order deliveries, extra image-API calls per kill.
. "$(dirname "$0")/lib.sh"

start_receiver --delay 0.05
MOCK_ARGS="--latency-min 0.3 --latency-max 1.0 --seed 13 --size 512" start_stack \
    "heartbeat_interval = 1" "stale_after = 3" "reap_interval = 1" "webhook_interval = 100"
q() { db "$1"; }
H=$T/hook.log
CASES=10 WANT=100

worker_of() { q "SELECT worker_pid FROM jobs WHERE case_id = '$1' AND status = 'generating'"; }
pending_update() { [ "$(q "SELECT count(*) FROM webhook_deliveries WHERE case_id = '$1' AND status = 'pending'")" -gt 0 ]; }
# A moment (five looks, 50 ms apart) for a pending update to show up; a kill follows anyway.
some_pending() {
	for _ in 1 2 3 4 5; do pending_update "$1" && return 0; sleep 0.05; done
	return 1
}
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }
rand_s() { awk -v seed="$1" 'BEGIN { srand(seed); printf "%.3f", 0.02 + rand() * 0.3 }'; }
settled() {	# every job final, no worker left, nothing pending: reaping as cron would
	"$IMAGEGEN" reap >/dev/null
	[ "$(q "SELECT count(*) FROM jobs WHERE status NOT IN ('completed', 'partial', 'failed')")" = 0 ] &&
	    [ "$(q "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")" = 0 ] || { sleep 0.3; return 1; }
}

kills=0 seed=100 c=0
while [ $c -lt $CASES ]; do
	c=$((c + 1))
	id=case-storm-$c
	make_case $id 10 4 "$HOOK_URL"
	post_json /api/generate-case-images "$T/$id.json"
	# What is still owed, spread over the cases left; at most 25 on one.
	target=$(( (WANT - kills + CASES - c) / (CASES - c + 1) ))
	[ $target -gt 25 ] && target=25
	n=0
	while [ $n -lt $target ] && ! is_final $id; do
		seed=$((seed + 1))
		sleep "$(rand_s $seed)"
		some_pending $id
		pid=$(worker_of $id)
		if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
			kills=$((kills + 1)) n=$((n + 1))
			wait_for 2 gone "$pid"
		fi
		"$IMAGEGEN" reap >/dev/null
	done
done
check "every job settles, its webhooks sent" wait_for 120 settled
diag "$kills SIGKILLs across $CASES cases"
check "at least $WANT workers were killed ($kills)" test $kills -ge $WANT

lost=0 badfiles=0
i=1
while [ $i -le $CASES ]; do
	id=case-storm-$i
	[ "$(job_status $id)" = completed ] || diag "$id is $(job_status $id)"
	done_n=$(q "SELECT count(*) FROM images WHERE case_id = '$id' AND status = 'completed'")
	lost=$((lost + 14 - done_n))
	[ "$(ls "$T/media/$id" | grep -c '\.jpg$')" = 14 ] || badfiles=$((badfiles + 1))
	i=$((i + 1))
done
is "$lost" 0 "images lost: 0"
is "$badfiles" 0 "every case has its 14 files"

# The receiver's view, in the order updates reached it; posts cut off by a
# kill (no JSON) are left out. Out of order: an update after the case's
# final (the final itself again, under its own webhook-id, is at-least-once
# delivery, counted below as an id accepted twice), or one with fewer
# images done than an update accepted before it.
jq -s -r 'map(select(.json != null)) | sort_by(.t) | .[] |
    [.json.caseId, .json.status, .json.completedImages, .status, .headers["webhook-id"]] | @tsv' "$H" > "$T/seen.tsv"
awk -F'\t' '
	{ if (final[$1] && $5 != final[$1]) { late++; print "after final: " $0 > "/dev/stderr" }
	  else if (!final[$1] && $3 < best[$1]) { older++; print "older: " $0 > "/dev/stderr" }
	  if ($4 == 200) { if ($3 > best[$1]) best[$1] = $3; last[$1] = $2 }
	  if ($4 == 200 && $2 != "generating" && !final[$1]) final[$1] = $5 }
	END { n = 0; for (c in last) if (last[c] == "completed") n++
	      printf "%d %d %d\n", late + 0, older + 0, n }' "$T/seen.tsv" > "$T/order" 2> "$T/order.err"
read late older finals < "$T/order"
[ -s "$T/order.err" ] && sed 's/^/# /' "$T/order.err"
is "$late" 0 "no update arrived after its case's final"
is "$older" 0 "no update arrived older than one accepted before it"
is "$finals" $CASES "each case's last accepted update is its final, completed"
# At least once: a kill between the receiver's answer and the worker's
# record of it sends that update again, under the same id.
twice=$(awk -F'\t' '$4 == 200 { print $5 }' "$T/seen.tsv" | sort | uniq -d | wc -l)
superseded=$(q "SELECT count(*) FROM webhook_deliveries WHERE status = 'superseded'")

calls=$(wc -l < "$T/mock.log")
answered=$(jq -s '[.[] | select(.client_gone != true)] | length' "$T/mock.log")
interrupted=$(q "SELECT sum(interrupted) FROM images")
failed_retries=$(q "SELECT count(*) FROM images WHERE attempts > 1")
diag "figures: $kills kills, images lost $lost, out-of-order deliveries $((late + older)),"
diag "  image-API calls $calls for $((CASES * 14)) images: $((calls - CASES * 14)) extra," \
    "$(awk -v e=$((calls - CASES * 14)) -v k=$kills 'BEGIN { printf "%.2f", e / k }') per kill"
diag "  $answered answered, $((calls - answered)) cut off by a kill; interrupted attempts recorded: $interrupted"
diag "  webhook rows superseded (never sent): $superseded; posts received: $(wc -l < "$H");" \
    "ids accepted twice: $twice"
is "$failed_retries" 0 "no image spent a retry: every extra call was an interrupted one"

done_testing
