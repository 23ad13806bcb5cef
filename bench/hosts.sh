#!/bin/sh
# bench/hosts.sh: scaling out, one run (`make bench` runs it after run.sh).
# 30 cases of 14 images, the mock's latency at 1 s, each worker host capped
# at max_inflight = 5: the time three worker hosts take, as a ratio of the
# time one takes, measured in the same run (ideal 0.33, the issue asks
# 0.4 or less). Each host is its own imagegen instance (t/hosts.sh); one
# state host dispatches to them through nginx's upstream. Also reported:
# progress updates per case, and the state host's time per update, from
# which imagegen(8) (SCALING OUT) derives the cases per second one state
# host can take.
#
# Environment: top_srcdir, top_builddir (as make sets them); HOSTS_CASES
# (30), HOSTS_LATENCY (the mock's, in s: 1), HOSTS_CAP (max_inflight of
# each worker host: 5).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/t/stack.sh"
CASES=${HOSTS_CASES:-30}
LATENCY=${HOSTS_LATENCY:-1}
CAP=${HOSTS_CAP:-5}
API_KEY=bench-key-$$
export GEMINI_API_KEY=$API_KEY
TOP=$(mktemp -d "${TMPDIR:-/tmp}/imagegen-bench-hosts.XXXXXX")
say() { echo "bench: $*" >&2; }
ms() { echo $(($(date +%s%N) / 1000000)); }

make_case() {	# make_case ID: 10 evidence photos and 4 location shots
	"$PYTHON3" -c 'import json, sys
c = sys.argv[1]
it = lambda p, i, w: {"id": "%s-%d" % (p, i), "name": "%s %d" % (w, i),
    "description": "%s number %d of case %s" % (w, i, c)}
print(json.dumps({"caseId": c, "evidence": [it("ev", i, "Evidence") for i in range(10)],
    "locations": [it("loc", i, "Location") for i in range(4)]}))' "$1" > "$T/$1.json"
}

# run N: the milliseconds N worker hosts take for CASES cases; figures in $T.
run() {
	T=$TOP/hosts-$1
	mkdir -p "$T"
	PIDS=
	. "$top_srcdir/t/hosts.sh"
	trap 'stop_hosts; stop_stack; rm -rf "$TOP"' EXIT
	start_mock --latency "$LATENCY"
	names=
	for i in $(seq 1 "$1"); do names="$names w$i"; done
	plan_hosts $names
	start_nginx
	start_state_host "reap_interval = 1" "log_level = debug"
	for h in $names; do start_worker_host "$h" "max_inflight = $CAP" "log_level = info"; done
	for i in $(seq 1 "$CASES"); do make_case "case-$i"; done
	t0=$(ms)
	for i in $(seq 1 "$CASES"); do
		curl -s -o /dev/null -H "Authorization: Bearer $API_TOKEN" \
		    -H 'Content-Type: application/json' --data-binary "@$T/case-$i.json" \
		    "$BASE/api/generate-case-images"
	done
	done_all() {
		curl -s -o /dev/null "$BASE/api/case-images/case-1"
		[ "$(sqlite3 -cmd '.timeout 10000' "$T/imagegen.db" \
		    "SELECT count(*) FROM jobs WHERE status = 'completed'")" = "$CASES" ]
	}
	wait_for 600 done_all || bail "$1 hosts: the cases did not complete"
	ELAPSED=$(($(ms) - t0))
	UPDATES=$(sqlite3 "$T/imagegen.db" "SELECT sum(applied) FROM dispatch_updates")
	# The state host's time per applied update, as its responder logged it.
	PER_UPDATE=$(grep 'POST /api/webhook/image-progress: 200 in' "$T/imagegen.log" |
	    sed 's/.* in \([0-9]*\) ms$/\1/' | awk '{s += $1; n++} END {printf "%.2f", n ? s / n : 0}')
	stop_hosts
	stop_stack
}

run 1
one=$ELAPSED
run 3
three=$ELAPSED
ratio=$(echo "scale=3; $three / $one" | awk '{print}' | bc)
per_case=$(echo "scale=1; $UPDATES / $CASES" | bc)
echo "hosts: $CASES cases x 14 images, mock latency ${LATENCY} s, max_inflight $CAP per worker host"
echo "hosts: one worker host      ${one} ms"
echo "hosts: three worker hosts   ${three} ms"
echo "hosts: ratio three/one      ${ratio} (ideal 0.333, asked <= 0.4)"
echo "hosts: updates per case     ${per_case} (three hosts' run)"
echo "hosts: state host, ms/update ${PER_UPDATE} (mean, as its responder logged them)"
