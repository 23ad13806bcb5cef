#!/bin/sh
# The systemd units in etc/systemd: systemd-analyze verify finds nothing
# to say of them, the socket is the one nginx's upstream names, and the
# units that start workers leave them running when they stop.
. "$(dirname "$0")/lib.sh"

U=$top_srcdir/etc/systemd
command -v systemd-analyze >/dev/null || bail "systemd-analyze is missing (deps.sh installs systemd)"

# Copies whose ExecStart is the binary just built: verify wants it to exist.
mkdir -p "$T/units" "$T/man/man8" "$T/man/man5"
for f in "$U"/imagegen*; do
	sed "s|/usr/local/bin/imagegen|$IMAGEGEN|" "$f" > "$T/units/${f##*/}"
done
cp "$top_srcdir/man/imagegen.8" "$T/man/man8/"
cp "$top_srcdir/man/imagegen.conf.5" "$T/man/man5/"
# Documentation= is checked with man(1); without it, there is nothing to check.
command -v man >/dev/null || sed -i '/^Documentation=/d' "$T"/units/*
is "$(ls "$T/units" | tr '\n' ' ')" \
    "imagegen-reap.service imagegen-reap.timer imagegen.service imagegen.socket " \
    "four units: the socket, the responder, the reaper and its timer"
for f in "$T"/units/*; do
	out=$(cd "$T/units" && MANPATH=$T/man SYSTEMD_LOG_LEVEL=notice \
	    systemd-analyze verify "./${f##*/}" 2>&1)
	is "$?/$out" "0/" "systemd-analyze verify ${f##*/}: nothing to say"
done

key() {	# key UNIT KEY: the values of KEY in UNIT, one a line
	sed -n "s/^$2=//p" "$U/$1"
}
sock=$(sed -n 's/^ *server unix:\(.*\);$/\1/p' "$top_srcdir/nginx/imagegen.conf")
is "$(key imagegen.socket ListenStream)" "$sock" "the socket is nginx's upstream ($sock)"
is "$(key imagegen.socket SocketUser)" www-data "... which nginx's workers may connect to"
is "$(key imagegen.service StandardInput)/$(key imagegen.service StandardOutput)" \
    socket/journal "the responder gets the socket on fd 0, and standard output is not it"
is "$(key imagegen.service KillMode)/$(key imagegen-reap.service KillMode)" process/process \
    "stopping the responder or the reaper leaves the workers they started running"
is "$(key imagegen.service ExecReload)" '/bin/kill -HUP $MAINPID' \
    "systemctl reload reopens the log file"
is "$(key imagegen-reap.service ExecStart)" "/usr/local/bin/imagegen reap" "the timer's service reaps"

done_testing
