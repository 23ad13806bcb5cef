#!/bin/sh
# log = stderr where stderr goes nowhere: spawn-fcgi, run as an operator
# runs it (no -n), forks the responder with stderr on /dev/null; its lines
# reach syslog instead, as a detached worker's do. A syslog listener of
# the test's own stands in for /dev/log: bound there where no syslog
# daemon is, else mounted over it in a mount namespace of the responder's.
. "$(dirname "$0")/lib.sh"

skip_all() { echo "1..0 # SKIP $*"; trap - EXIT; rm -rf "$T"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "takes /dev/log's place: needs root"
if [ -e /dev/log ]; then
	command -v unshare >/dev/null || skip_all "/dev/log is a syslog daemon's, and no unshare"
	LOGSOCK=$T/log.sock
else
	LOGSOCK=/dev/log
	before_cleanup 'rm -f /dev/log'
fi

cat > "$T/listener.py" <<'PY'
import os, socket, sys
path, out, ready = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
open(ready, "w").close()
with open(out, "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\n") + b"\n")
PY
"$PYTHON3" "$T/listener.py" "$LOGSOCK" "$T/syslog.out" "$T/syslog.ready" \
    </dev/null >"$T/listener.err" 2>&1 &
PIDS="$PIDS $!"
wait_for 20 test -e "$T/syslog.ready" || bail "the syslog listener did not start"

start_mock
write_config "log = stderr" "log_level = info"
# spawn-fcgi as an operator types it: it forks the responder and exits.
run_spawn_fcgi() {
	if [ "$LOGSOCK" = /dev/log ]; then
		"$SPAWN_FCGI" "$@"
	else
		unshare -m sh -c 'mount --bind "$0" /dev/log && exec "$@"' "$LOGSOCK" "$SPAWN_FCGI" "$@"
	fi
}
run_spawn_fcgi -s "$T/imagegen.sock" -P "$T/imagegen.pid" -- "$IMAGEGEN" > "$T/spawn.out" 2>&1
is "$?" 0 "spawn-fcgi forks the responder"
RESPONDER=$(cat "$T/imagegen.pid" 2>/dev/null)
[ -n "$RESPONDER" ] || bail "no pid from spawn-fcgi: $(cat "$T/spawn.out")"
PIDS="$PIDS $RESPONDER"
is "$(readlink "/proc/$RESPONDER/fd/2")" /dev/null "its stderr is /dev/null"

ready() { grep -q "imagegen\[$RESPONDER\]: info: serve: FastCGI responder ready" "$T/syslog.out"; }
check "its start-up line reaches syslog" wait_for 20 ready
start_nginx
http GET /api/case-images/nope
is "$CODE" 404 "a request for an unknown case is answered"
said() { grep -q "imagegen\[$RESPONDER\]: .*webhook" "$T/syslog.out"; }
check "its warnings reach syslog too (no webhook secret)" said
sed 's/^/# /' "$T/syslog.out" | head -5

done_testing
