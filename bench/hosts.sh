#!/bin/sh
# bench/hosts.sh: scaling out on one PostgreSQL, one run (`make bench` runs
# it after run.sh). 30 cases of 14 images, the mock's latency at 1 s, each
# host running at most host_max_jobs = 5 workers: the time three hosts take,
# as a ratio of the time one takes, measured in the same run (ideal 0.33,
# the issue asks 0.4 or less). Each host is its own imagegen instance
# (t/hosts.sh): its config, socket, spool and log; nginx's upstream spreads
# the generate requests over them. Also reported, for imagegen(8)'s
# capacity model: the database server's CPU per case (its processes' user
# and system time over the run), the transactions it commits per case and
# per second.
#
# The three hosts share this machine's cores, where real ones each have
# their own: HOSTS_SIZE (the mock's pictures and image_size) may make the
# pictures smaller, to measure the spreading alone.
# max_inflight is the cluster's: 256, above the 75 requests three hosts
# have out at once (5 workers each, 5 requests a worker), not a bound here.
#
# Environment: top_srcdir, top_builddir (as make sets them); HOSTS_CASES
# (30), HOSTS_LATENCY (the mock's, in s: 1), HOSTS_CAP (host_max_jobs: 5),
# HOSTS_SIZE (the pictures, in px: 512, image_size's default).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/t/stack.sh"
CASES=${HOSTS_CASES:-30}
LATENCY=${HOSTS_LATENCY:-1}
CAP=${HOSTS_CAP:-5}
SIZE=${HOSTS_SIZE:-512}
API_KEY=bench-key-$$
export GEMINI_API_KEY=$API_KEY
TOP=$(mktemp -d "${TMPDIR:-/tmp}/imagegen-bench-hosts.XXXXXX")
T=$TOP
export T
say() { echo "bench: $*" >&2; }
ms() { echo $(($(date +%s%N) / 1000000)); }
exited() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
before_cleanup() { :; }
tap_failed=0
IMAGEGEN_TEST_DATABASE=postgresql
export IMAGEGEN_TEST_DATABASE
. "$top_srcdir/t/pg.sh"
. "$top_srcdir/t/hosts.sh"
trap 'stop_hosts; stop_stack; stop_pg; rm -rf "$TOP"' EXIT
trap 'exit 1' INT TERM

make_case() {	# make_case ID: 10 evidence photos and 4 location shots
	"$PYTHON3" -c 'import json, sys
c = sys.argv[1]
it = lambda p, i, w: {"id": "%s-%d" % (p, i), "name": "%s %d" % (w, i),
    "description": "%s number %d of case %s" % (w, i, c)}
print(json.dumps({"caseId": c, "evidence": [it("ev", i, "Evidence") for i in range(10)],
    "locations": [it("loc", i, "Location") for i in range(4)]}))' "$1" > "$TOP/$1.json"
}

# The database server's CPU so far, in ms: the postmaster's own and that of
# its children, those it reaped (cutime, cstime) and those still running.
db_cpu_ms() {
	tck=$(getconf CLK_TCK)
	{
		awk '{print $14 + $15 + $16 + $17}' "/proc/$PG_PID/stat"
		for p in $(pgrep -P "$PG_PID"); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done
	} | awk -v t="$tck" '{s += $1} END {printf "%d", s * 1000 / t}'
}
commits() { db "SELECT xact_commit FROM pg_stat_database WHERE datname = 'imagegen'"; }
db() { "$top_srcdir/t/db" "$@"; }

# run N: the milliseconds N hosts take for CASES cases; the database's figures.
run() {
	stop_hosts
	stop_stack
	PIDS= HOSTS=0
	rm -rf "$TOP"/h* "$TOP/mock.port" "$TOP/mock.log"
	if [ -n "${PG_URI:-}" ]; then
		echo "DROP DATABASE IF EXISTS imagegen WITH (FORCE); CREATE DATABASE imagegen OWNER imagegen;" |
		    pg_super >/dev/null || bail "cannot make the database anew"
	fi
	start_mock --latency "$LATENCY" --size "$SIZE"
	start_hosts "$1" 1 "host_max_jobs = $CAP" "max_inflight = 256" "concurrency = 5" \
	    "log_level = info" "image_size = $SIZE"
	cpu0=$(db_cpu_ms) tx0=$(commits) t0=$(ms)
	for i in $(seq 1 "$CASES"); do
		curl -s -o /dev/null -H "Authorization: Bearer $API_TOKEN" \
		    -H 'Content-Type: application/json' --data-binary "@$TOP/case-$i.json" \
		    "$BASE/api/generate-case-images"
	done
	done_all() { [ "$(db "SELECT count(*) FROM jobs WHERE status = 'completed'")" = "$CASES" ]; }
	wait_for 900 done_all || bail "$1 hosts: the cases did not complete"
	ELAPSED=$(($(ms) - t0))
	DB_CPU=$(($(db_cpu_ms) - cpu0))
	TX=$(($(commits) - tx0))
}

for i in $(seq 1 "$CASES"); do make_case "case-$i"; done
say "hosts: one host, $CASES cases"
run 1
one=$ELAPSED one_cpu=$DB_CPU one_tx=$TX
say "hosts: three hosts, $CASES cases"
run 3
three=$ELAPSED
awk -v one="$one" -v three="$three" -v c="$CASES" -v lat="$LATENCY" -v cap="$CAP" \
    -v cpu1="$one_cpu" -v cpu3="$DB_CPU" -v tx1="$one_tx" -v tx3="$TX" 'BEGIN {
	printf "hosts: %d cases x 14 images, mock latency %s s, host_max_jobs %d, one PostgreSQL\n", c, lat, cap
	printf "hosts: ideal             %6d ms one host, %d three (waves of %d cases, ~3 s each)\n", int((c + cap - 1) / cap) * 3000, int((c + 3 * cap - 1) / (3 * cap)) * 3000, cap
	printf "hosts: one host          %6d ms\n", one
	printf "hosts: three hosts       %6d ms\n", three
	printf "hosts: ratio three/one   %6.3f   (ideal 0.333; asked <= 0.4)\n", three / one
	printf "hosts: database CPU      %6.1f ms a case with one host, %.1f with three\n", cpu1 / c, cpu3 / c
	printf "hosts: transactions      %6.1f a case; %.0f a second with three hosts\n", tx3 / c, tx3 * 1000 / three
	printf "| hosts: three against one | %d / %d ms | | %.3fx | <= 0.4x | %s |\n", three, one, three / one, three / one <= 0.4 ? "met" : "MISSED"
}'
