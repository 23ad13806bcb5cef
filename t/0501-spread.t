#!/bin/sh
# Scaling out: one state host (dispatch_url) and three worker hosts, each
# its own imagegen instance with its own config, database, media dir and
# FastCGI socket, behind one nginx: the state host's server block, the
# shipped worker server block per worker host, and the shipped upstream of
# them. 30 cases complete; every image is stored once on the state host,
# as a 512x512 JPEG, made once by the mock, and the work is spread across
# the worker hosts. Then fencing: an update of a dispatch that is not the
# job's current one is refused (409), and the worker that sent it stops.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/hosts.sh"

start_mock
plan_hosts w1 w2 w3
start_nginx
start_state_host "reap_interval = 1"
for h in w1 w2 w3; do start_worker_host "$h" "heartbeat_interval = 1"; done

N=30
submit_cases $N 10 4
all_done() { [ "$(q "SELECT count(*) FROM jobs WHERE status = 'completed'")" = $N ]; }
check "all $N cases complete on the state host" wait_for 240 all_done
is "$(q "SELECT count(*) FROM images WHERE status = 'completed'")" $((N * 14)) \
    "all $((N * 14)) images are completed"
is "$(q "SELECT count(*) FROM dispatches WHERE state = 'done' AND generation = 1")" $N \
    "each case was dispatched once, and its dispatch is done"
is "$(q "SELECT count(*) FROM jobs WHERE worker_pid IS NOT NULL")" 0 \
    "the state host started no local worker"

bad=0
for p in $(q "SELECT path FROM images"); do
	[ "$(identify -format '%m %wx%h' "$T/media/$p" 2>/dev/null || identify -format '%m %wx%h' "$p" 2>/dev/null)" = "JPEG 512x512" ] || bad=$((bad + 1))
done
is "$bad" 0 "every image is a 512x512 JPEG file on the state host"
is "$(find "$T/media" -type f | wc -l)" $((N * 14)) "the state host stored each image once: no more files"
is "$(jq -r '.prompt // empty' "$T/mock.log" | wc -l)" $((N * 14)) "the mock made $((N * 14)) images"
is "$(jq -r '.prompt // empty' "$T/mock.log" | sort -u | wc -l)" $((N * 14)) "... each once"
for h in w1 w2 w3; do
	n=$(q "SELECT count(*) FROM images WHERE worker_host = '$h'")
	check "$h made at least 20% of the images ($n)" test "$n" -ge $((N * 14 / 5))
	left=$(find "$T/$h/media" -type f | wc -l)
	is "$left" 0 "$h kept no copy once the state host had them"
done
is "$(q "SELECT count(*) FROM images WHERE worker_host IS NULL")" 0 "every image names its worker host"

# The operator's view: the worker host of each image, in status and show.
http GET /api/case-images/case-0
is "$(json '[.images[] | select(.workerHost | test("^w[123]$"))] | length')" 14 \
    "the status JSON names each image's worker host"
IMAGEGEN_CONFIG=$T/imagegen.conf "$IMAGEGEN" show case-0 > "$T/show.out"
is "$(awk '/WORKER HOST/ {on = 1; next} on && NF == 2 {print $2}' "$T/show.out" | sort -u | wc -l)" 1 \
    "imagegen show lists the worker host of each image"
is "$(awk '/WORKER HOST/ {on = 1; next} on && NF == 2' "$T/show.out" | wc -l)" 14 "... all 14"

# Fencing. A signed update that names another dispatch is refused.
make_case case-f 10 4 "" $(for k in 0 1 2 3 4 5 6 7 8 9; do echo "ev-$k=delay=3"; done)
post_json /api/generate-case-images "$T/case-f.json"
is "$CODE" 202 "another case is taken"
jq -c '{caseId, status: "generating", completedImages: 0, totalImages: 14,
    evidenceImages: {}, locationImages: {}, failedIds: [], dispatchId: "case-f.old",
    workerHost: "w9"}' "$T/case-f.json" > "$T/old.json"
HOOK_SECRET=$DISPATCH_SECRET post_progress "$T/old.json"
is "$CODE" 409 "an update of another dispatch id is refused: 409"
# The job is dispatched again elsewhere (as the reaper does): the worker's next update gets 409.
which_host() {
	for h in w1 w2 w3; do
		[ "$(hq $h "SELECT status FROM jobs WHERE case_id = 'case-f'")" = generating ] &&
		    { F=$h; return 0; }
	done
	return 1
}
check "a worker host runs case-f" wait_for 30 which_host
fpid=$(hq $F "SELECT worker_pid FROM jobs WHERE case_id = 'case-f'")
q "UPDATE dispatches SET dispatch_id = 'case-f.taken-back' WHERE case_id = 'case-f'"
fenced() { [ -n "$(hq $F "SELECT fenced_at FROM dispatch_jobs WHERE case_id = 'case-f'")" ]; }
check "the worker host is told 409 and fences its job" wait_for 30 fenced
check "its worker stops at once" wait_for 10 exited "$fpid"
is "$(find "$T/$F/media" -type f -path '*/case-f/*' | wc -l)" 0 \
    "the fenced host keeps no file of case-f"
made=$(jq -r '.prompt // empty' "$T/mock.log" | grep -c 'case case-f')
check "it made fewer than the 14 images ($made): no more paid calls" test "$made" -lt 14
is "$(q "SELECT count(*) FROM images WHERE case_id = 'case-f' AND status = 'completed'")" \
    "$(q "SELECT completed_images FROM jobs WHERE case_id = 'case-f'")" \
    "the state host kept only what the current dispatch reported"
grep -q "refused an update of dispatch case-f.old from w9" "$T/imagegen.log"
ok $? "the state host logs the fenced update with its host"
http GET /api/metrics/image-generation
grep -q '^imagegen_dispatches_total 31$' "$T/body"
ok $? "metrics count the dispatches: 31"
grep -q '^imagegen_dispatch_updates_total{worker_host="w9",result="fenced"} 1$' "$T/body"
ok $? "... the fenced updates by worker host"
fenced_total=$(awk '/^imagegen_dispatch_updates_total.*result="fenced"/ {n += $2} END {print n}' "$T/body")
check "... the worker's own fenced update too ($fenced_total)" test "$fenced_total" -ge 2
applied=$(awk '/^imagegen_dispatch_updates_total.*w[123]",result="applied"/ {n++} END {print n}' "$T/body")
is "$applied" 3 "... and the updates applied from each of the three hosts"
http GET /api/metrics/image-generation -H 'Accept: application/json'
is "$(json '.dispatch.redispatches')" 0 "the JSON metrics have the dispatch figures"
is "$(json '[.dispatch.workerHosts[] | .images] | add')" "$((N * 14 + $(q "SELECT count(*) FROM images WHERE case_id = 'case-f' AND status = 'completed'")))" \
    "... and the images per worker host"
done_testing
