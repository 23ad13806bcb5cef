#!/bin/sh
# check.sh: install what is missing, build from scratch, and run the whole
# test suite twice: a plain build in build/, then one with AddressSanitizer
# and UBSan in build-san/ (an error there aborts the process, and a test
# fails).
set -eu
cd "$(dirname "$0")"
sh ./deps.sh test
# The browser tests' driver, at the version of t/browser/package-lock.json.
(cd t/browser && npm ci --no-audit --no-fund >/dev/null) ||
    { echo "check.sh: npm ci in t/browser failed" >&2; exit 1; }
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }

pass=0 fail=0 rc=0
suite() {	# suite DIR [CONFIGURE-OPTIONS...]
	dir=$1; shift
	rm -rf "$dir" && mkdir "$dir"
	(cd "$dir" && ../configure --quiet "$@" && make -j2 >/dev/null) || return 1
	r=0
	(cd "$dir" && make -j2 check >check.out 2>&1) || r=$?
	grep -E '^(FAIL|ERROR):' "$dir/check.out" | sed "s|^|$dir: |" || true
	if [ $r -ne 0 ]; then
		for log in $(grep -lE '^(not ok|Bail out)' "$dir"/t/*.log 2>/dev/null); do
			echo "=== $log"; cat "$log"
		done
	fi
	p=$(sed -n 's/^# PASS: *//p' "$dir/check.out")
	f=$(sed -n 's/^# FAIL: *//p' "$dir/check.out")
	e=$(sed -n 's/^# ERROR: *//p' "$dir/check.out")
	echo "$dir: ${p:-0} passed, $(( ${f:-0} + ${e:-0} )) failed"
	pass=$((pass + ${p:-0})) fail=$((fail + ${f:-0} + ${e:-0}))
	return $r
}
suite build || rc=1
suite build-san --enable-sanitizers || rc=1
echo "$pass passed, $fail failed"
exit $rc
