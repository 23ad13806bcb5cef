#!/bin/sh
# check.sh: install what is missing, build from scratch in build/, and run
# the whole test suite (unit tests, then the real stack through nginx).
set -eu
cd "$(dirname "$0")"
sh ./deps.sh
autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }
rm -rf build && mkdir build && cd build
../configure --quiet
make -j2 >/dev/null
rc=0
make -j2 check >check.out 2>&1 || rc=$?
grep -E '^(FAIL|ERROR):' check.out || true
if [ $rc -ne 0 ]; then
	for log in $(grep -lE '^(not ok|Bail out)' t/*.log 2>/dev/null); do
		echo "=== $log"; cat "$log"
	done
fi
pass=$(sed -n 's/^# PASS: *//p' check.out)
fail=$(sed -n 's/^# FAIL: *//p' check.out)
error=$(sed -n 's/^# ERROR: *//p' check.out)
echo "${pass:-0} passed, $(( ${fail:-0} + ${error:-0} )) failed"
exit $rc
