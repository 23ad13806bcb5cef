#!/bin/sh
# check.sh: install what is missing, build from scratch, and run the whole
# test suite three times: a plain build in build/, whose suite is make
# distcheck (the tarball unpacked read-only, built, checked, installed,
# uninstalled and cleaned); the same build's suite again on PostgreSQL
# (IMAGEGEN_TEST_DATABASE=postgresql: a throwaway cluster per test, from
# t/pg.sh); then one with AddressSanitizer and UBSan in build-san/ (an
# error there aborts the process, and a test fails). Each suite prints a
# line as it starts and one as it ends.
set -eu
cd "$(dirname "$0")"
# build/ and build-san/ are VPATH builds: configure refuses them while an
# in-tree build (./configure run here) is in the way.
if [ -f config.status ]; then
	echo "check.sh: ./configure was run in this directory; check.sh builds in build/" >&2
	echo "  and build-san/, which it forbids: run 'make distclean' here first." >&2
	exit 1
fi
last=.check-duration
if [ -s "$last" ]; then
	echo "check.sh: the last full run here took $(cat "$last"); deps, then two builds and three suites"
else
	echo "check.sh: a full run takes about 30 minutes on 2 cores (2 builds, 3 suites of" \
	    "$(ls t/[0-9]*.t | wc -l) test scripts)"
fi
start=$(date +%s)
sh ./deps.sh test
# The browser tests' driver, at the version of t/browser/package-lock.json.
(cd t/browser && npm ci --no-audit --no-fund >/dev/null) ||
    { echo "check.sh: npm ci in t/browser failed" >&2; exit 1; }
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }

pass=0 fail=0 rc=0
elapsed() { s=$(($(date +%s) - $1)); echo "$((s / 60)) min $((s % 60)) s"; }
# suite DIR TARGET [CONFIGURE-OPTIONS...]: TARGET is check or distcheck.
# With ENGINE=postgresql, DIR's build is kept and its suite runs on
# PostgreSQL.
suite() {
	dir=$1 target=$2; shift 2
	t0=$(date +%s)
	engine=${ENGINE:-sqlite}
	[ "$engine" = sqlite ] || echo "$dir: the suite again, on $engine"
	[ "$engine" = sqlite ] && echo "$dir: configure${*:+ $*} and build"
	# A failed distcheck leaves its tree read-only.
	[ -d "$dir" ] && chmod -R u+w "$dir"
	[ "$engine" = sqlite ] && { rm -rf "$dir" && mkdir "$dir"; }
	if [ "$engine" = sqlite ] &&
	    ! (cd "$dir" && ../configure --quiet "$@" && make -j2 >make.out 2>&1); then
		echo "$dir: the build failed:"; tail -30 "$dir/make.out" 2>/dev/null
		fail=$((fail + 1))
		return 1
	fi
	echo "$dir: make $target: $(ls t/[0-9]*.t | wc -l) test scripts and the unit tests"
	r=0
	# In distcheck's read-only tree the browser tests find puppeteer-core
	# by NODE_PATH, in this tree's t/browser (npm ci above).
	modules=$(pwd)/t/browser/node_modules
	out=check.out
	[ "$engine" = sqlite ] || out=check-$engine.out
	(cd "$dir" && IMAGEGEN_TEST_DATABASE=$engine NODE_PATH=$modules make -j2 "$target" \
	    >"$out" 2>&1) || r=$?
	grep -E '^(FAIL|ERROR):' "$dir/$out" | sed "s|^|$dir: |" || true
	if [ $r -ne 0 ]; then
		for log in $(grep -lE '^(not ok|Bail out)' "$dir"/t/*.log \
		    "$dir"/imagegen-*/_build/sub/t/*.log 2>/dev/null); do
			echo "=== $log"; cat "$log"
		done
	fi
	p=$(sed -n 's/^# PASS: *//p' "$dir/$out")
	f=$(sed -n 's/^# FAIL: *//p' "$dir/$out")
	e=$(sed -n 's/^# ERROR: *//p' "$dir/$out")
	s=$(sed -n 's/^# SKIP: *//p' "$dir/$out")
	# check.sh gives distcheck's tests what a read-only tree lacks (NODE_PATH):
	# one that skips for it all the same has lost its coverage.
	n=$(grep -c '^SKIP: .*read-only source tree' "$dir/$out" || true)
	[ "$n" -eq 0 ] || { echo "$dir: $n tests skipped for the read-only tree:" \
	    "NODE_PATH=$modules has no puppeteer-core"; f=$(( ${f:-0} + n )); r=1; }
	# Failed outside the tests (a build, distcheck's install or clean checks).
	[ $r -ne 0 ] && [ "${f:-0}${e:-0}" = 00 ] &&
	    { echo "$dir: make $target failed:"; tail -30 "$dir/$out"; e=1; }
	echo "$dir: ${p:-0} passed, $(( ${f:-0} + ${e:-0} )) failed, ${s:-0} skipped ($(elapsed "$t0"))"
	pass=$((pass + ${p:-0})) fail=$((fail + ${f:-0} + ${e:-0}))
	return $r
}
suite build distcheck || rc=1
ENGINE=postgresql suite build check || rc=1
suite build-san check --enable-sanitizers || rc=1
echo "$pass passed, $fail failed, in $(elapsed "$start")"
[ $rc -eq 0 ] && elapsed "$start" > "$last"
exit $rc
