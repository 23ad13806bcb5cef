#!/bin/sh
# The systemd units: systemd-analyze verify finds nothing to say of them,
# the socket is the one nginx's upstream names, the responder is the
# timer's unit (so the workers a sweep resumes live in a unit that lives),
# the units that start workers leave them running when they stop, and the
# responder's sandbox rates 3.0 or lower in systemd-analyze security.
. "$(dirname "$0")/lib.sh"

U=$top_srcdir/etc/systemd
B=$top_builddir/etc/systemd
command -v systemd-analyze >/dev/null || bail "systemd-analyze is missing (deps.sh installs systemd)"

# Copies whose ExecStart is the binary just built: verify wants it to exist.
mkdir -p "$T/units" "$T/man/man8" "$T/man/man5"
for f in "$U/imagegen.socket" "$U/imagegen-reap.timer" "$B/imagegen.service"; do
	sed "s|^ExecStart=.*/imagegen|ExecStart=$IMAGEGEN|" "$f" > "$T/units/${f##*/}"
done
cp "$top_srcdir/man/imagegen.8" "$T/man/man8/"
cp "$top_srcdir/man/imagegen.conf.5" "$T/man/man5/"
# Documentation= is checked with man(1); without it, there is nothing to check.
command -v man >/dev/null || sed -i '/^Documentation=/d' "$T"/units/*
is "$(ls "$T/units" | tr '\n' ' ')" "imagegen-reap.timer imagegen.service imagegen.socket " \
    "three units: the socket, the responder and the reap timer"
for f in "$T"/units/*; do
	out=$(cd "$T/units" && MANPATH=$T/man SYSTEMD_LOG_LEVEL=notice \
	    systemd-analyze verify "./${f##*/}" 2>&1)
	is "$?/$out" "0/" "systemd-analyze verify ${f##*/}: nothing to say"
done

key() {	# key UNIT KEY: the values of KEY in UNIT, one a line
	sed -n "s/^$2=//p" "$T/units/$1"
}
sock=$(sed -n 's/^ *server unix:\(.*\);$/\1/p' "$top_srcdir/nginx/imagegen.conf.in")
is "$(key imagegen.socket ListenStream)" "$sock" "the socket is nginx's upstream ($sock)"
is "$(key imagegen.socket SocketUser)" www-data "... which nginx's workers may connect to"
is "$(key imagegen.service StandardInput)/$(key imagegen.service StandardOutput)" \
    socket/journal "the responder gets the socket on fd 0, and standard output is not it"
is "$(key imagegen.service KillMode)" process \
    "stopping the responder leaves the workers it started running"
is "$(key imagegen.service ExecReload)" '/bin/kill -HUP $MAINPID' \
    "systemctl reload reopens the log file"
is "$(key imagegen-reap.timer Unit)" imagegen.service \
    "the timer starts the responder, which sweeps, rather than a oneshot"
# configure's bindir and sysconfdir, expanded as make expands them.
set -- $(printf 'show-paths:\n\t@echo $(bindir) $(sysconfdir)\n' |
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top_builddir" -f Makefile -f - show-paths)
is "$(sed -n 's/^\(ExecStart\|Environment\|EnvironmentFile\)=//p' "$B/imagegen.service" | tr '\n' ' ')" \
    "$1/imagegen IMAGEGEN_CONFIG=$2/imagegen.conf -$2/imagegen.env " \
    "the built unit names the binary and the config where configure put them"

# The sandbox, rated offline as systemd would rate the installed unit.
out=$(cd "$T/units" && systemd-analyze security --offline=true --no-pager ./imagegen.service 2>&1)
score=$(echo "$out" | sed -n 's/.*Overall exposure level for imagegen.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security rates the responder ${score:-?} (at most 3.0)" \
    awk -v s="${score:-99}" 'BEGIN { exit !(s <= 3.0) }'
for k in ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes SystemCallFilter=@system-service; do
	check "... with $k" grep -qx "$k" "$T/units/imagegen.service"
done

done_testing
