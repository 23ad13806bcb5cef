#!/bin/sh
# The Debian package, end to end, on this host: dpkg-buildpackage builds
# it from a copy of the sources, lintian finds no error, apt-get installs
# it (the imagegen user, its directories, the conffile 0640 root:imagegen,
# the database, the units enabled, the nginx site and snippet); the
# responder is started as systemd would (or by spawn-fcgi where systemd
# is not PID 1), and one case goes through Debian's nginx with the
# installed site, next to Debian's default site, on the offline provider.
# apt-get purge leaves no imagegen process, removes the config and keeps
# the database. The test then removes what the package kept, and the
# user, so the host is as it was.
#
# It installs a package system-wide, so it runs as root, in the plain
# suite only (check.sh's build/; the sanitizer suite skips it), and only
# on a host where imagegen is not already installed or deployed.
. "$(dirname "$0")/lib.sh"

skip_all() { echo "1..0 # SKIP $*"; trap - EXIT; rm -rf "$T"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "installs a package: needs root"
grep -q '^SANITIZER_CFLAGS = -f' "$top_builddir/Makefile" &&
    skip_all "the package's own build is not a sanitizer build: the plain suite runs this"
for c in dpkg-buildpackage lintian apt-get nginx spawn-fcgi sqlite3; do
	command -v $c >/dev/null || bail "$c is missing (deps.sh installs it)"
done
dpkg-query -W -f '${Status}' imagegen 2>/dev/null | grep -q installed &&
    skip_all "an imagegen package is installed here: not touching it"
{ [ -e /var/lib/imagegen ] || getent passwd imagegen >/dev/null; } &&
    skip_all "imagegen is deployed on this host (/var/lib/imagegen or the user exists)"

APT="apt-get -o DPkg::Lock::Timeout=600 -y -q"
export DEBIAN_FRONTEND=noninteractive
unset IMAGEGEN_CONFIG
SITE_LINK=/etc/nginx/sites-enabled/imagegen
INSTALLED=0
# Whatever happens, the host is left as it was: processes by pid, the
# package purged, and what a purge keeps removed.
restore() {
	[ -L "$SITE_LINK" ] && rm -f "$SITE_LINK"
	if [ "$INSTALLED" = 1 ] && dpkg-query -W -f '${Status}' imagegen 2>/dev/null |
	    grep -q installed; then
		$APT purge imagegen >/dev/null 2>&1
	fi
	if [ "$INSTALLED" = 1 ]; then
		rm -rf /var/lib/imagegen /var/log/imagegen /run/imagegen
		getent passwd imagegen >/dev/null && userdel imagegen 2>/dev/null
		getent group imagegen >/dev/null && groupdel imagegen 2>/dev/null
	fi
}
before_cleanup restore

# 1. Build, from a copy: dpkg-buildpackage writes beside the source tree.
build_deb
is "$DEB_RC/${deb:+deb}" "0/deb" "dpkg-buildpackage -us -uc -b builds ${deb##*/} ($DEB_SECS s)"
[ -n "$deb" ] || { tail -30 "$T/build.log" | sed 's/^/# /'; bail "no package"; }

lintian "$T"/src/imagegen_*.changes > "$T/lintian.out" 2>&1
is "$(grep -c '^E:' "$T/lintian.out")" 0 \
    "lintian: no error ($(grep -c '^W:' "$T/lintian.out") warnings)"
grep '^[EW]:' "$T/lintian.out" | sed 's/^/# /'

dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\.||' > "$T/files"
for f in /usr/bin/imagegen /usr/share/man/man8/imagegen.8.gz /usr/share/man/man5/imagegen.conf.5.gz \
    /etc/imagegen/imagegen.conf /usr/lib/sysusers.d/imagegen.conf /usr/lib/tmpfiles.d/imagegen.conf \
    /lib/systemd/system/imagegen.socket /lib/systemd/system/imagegen.service \
    /lib/systemd/system/imagegen-reap.timer /etc/nginx/sites-available/imagegen \
    /etc/nginx/snippets/imagegen.conf /usr/share/imagegen/prometheus/imagegen-rules.yml; do
	check "the package has $f" grep -qx "$f" "$T/files"
done
dpkg-deb -e "$deb" "$T/control"
is "$(sort "$T/control/conffiles" | tr '\n' ' ')" \
    "/etc/imagegen/imagegen.conf /etc/nginx/sites-available/imagegen /etc/nginx/snippets/imagegen.conf " \
    "the config, the site and the snippet are conffiles"

# 2. Install, as the README says.
INSTALLED=1
(cd "$T/src" && $APT install "./${deb##*/}") > "$T/install.log" 2>&1
is "$?" 0 "apt-get install ./${deb##*/}"
[ "$(dpkg-query -W -f '${Status}' imagegen 2>/dev/null)" = "install ok installed" ] ||
    { tail -30 "$T/install.log" | sed 's/^/# /'; bail "not installed"; }
check "the imagegen system user exists (sysusers.d)" sh -c 'getent passwd imagegen >/dev/null'
is "$(stat -c '%a %U:%G' /etc/imagegen/imagegen.conf)" "640 root:imagegen" \
    "the config is 0640 root:imagegen"
is "$(stat -c '%U' /var/lib/imagegen /var/lib/imagegen/media /run/imagegen | tr '\n' ' ')" \
    "imagegen imagegen imagegen " "its directories are the user's (tmpfiles.d)"
is "$(sqlite3 /var/lib/imagegen/imagegen.db 'PRAGMA user_version')/$(stat -c %U /var/lib/imagegen/imagegen.db)" \
    "$(ls "$top_srcdir"/sql/[0-9]*.sql | wc -l)/imagegen" "postinst ran initdb, as the user"
check "the socket is enabled" test -L /etc/systemd/system/sockets.target.wants/imagegen.socket
check "the reap timer is enabled" test -L /etc/systemd/system/timers.target.wants/imagegen-reap.timer
check "imagegen --version answers" sh -c "imagegen --version | grep -q '^imagegen '"

# The one edit a deployment needs (here a token and the offline provider).
TOKEN=deb-test-token-$$-0123456789
printf 'provider = local\nlocal_delay = 1500\napi_tokens = %s\n' "$TOKEN" >> /etc/imagegen/imagegen.conf
out=$(imagegen config 2>&1 >/dev/null)
is "$?/$out" "0/" "imagegen config accepts it, with no warning (the mode is right)"

# 3. Start the responder, as the socket unit would.
if [ -d /run/systemd/system ]; then
	# postinst started the units: the next connection starts a responder
	# that reads the edited config.
	systemctl stop imagegen.service
	systemctl start imagegen.socket || bail "systemctl start imagegen.socket failed"
	STARTED=systemd
else
	rm -f /run/imagegen/imagegen.sock
	"$SPAWN_FCGI" -n -s /run/imagegen/imagegen.sock -U www-data -G www-data -M 0660 \
	    -u imagegen -g imagegen -- /usr/bin/imagegen </dev/null >>"$T/imagegen.out" 2>&1 &
	RESPONDER=$!
	PIDS="$PIDS $RESPONDER"
	STARTED=spawn-fcgi
	wait_for 10 test -S /run/imagegen/imagegen.sock || bail "the responder did not start"
fi
ok 0 "the responder is started ($STARTED)"

# 4. Debian's nginx, its default site and ours, enabled as the README says.
ln -s ../sites-available/imagegen "$SITE_LINK"
out=$(nginx -t 2>&1)
is "$?" 0 "nginx -t with the site enabled beside Debian's default"
check "... and no conflicting server name" sh -c "! echo '$out' | grep -q conflicting"
port80_free() {
	"$PYTHON3" -c 'import socket
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 80)); s.close()' 2>/dev/null
}
if port80_free; then
	# The host's nginx.conf as it is, on port 80; its pid file is ours meanwhile.
	nginx -g 'daemon off;' </dev/null >>"$T/nginx.out" 2>&1 &
	PIDS="$PIDS $!"
	PORT=80 HOW="Debian's nginx.conf on port 80"
else
	# Port 80 is taken: the same site, on a free port, by the same user.
	PORT=$(free_port)
	cp /etc/nginx/fastcgi_params "$T/"
	sed -e "s|listen 80;|listen 127.0.0.1:$PORT;|" -e '/listen \[::\]:80;/d' \
	    /etc/nginx/sites-available/imagegen > "$T/site.conf"
	printf 'user www-data;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/nginx-error.log;\nevents {}\nhttp {\n access_log off;\n include /etc/nginx/mime.types;\n include %s/site.conf;\n}\n' \
	    "$T" "$T" "$T" > "$T/nginx.conf"
	nginx -c "$T/nginx.conf" </dev/null >>"$T/nginx.out" 2>&1 &
	PIDS="$PIDS $!"
	HOW="port 80 is taken: the installed site on port $PORT"
fi
SITE=http://imagegen.example:$PORT
CURL="curl -s -m 30 --resolve imagegen.example:$PORT:127.0.0.1"
wait_for 10 $CURL -o /dev/null "$SITE/" || bail "nginx did not start ($HOW)"
ok 0 "nginx serves the site ($HOW)"

# 5. One case, through nginx, with the installed site.
make_case deb-case-1 2 1
CODE=$($CURL -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary "@$T/deb-case-1.json" \
    "$SITE/api/generate-case-images")
is "$CODE" 202 "POST /api/generate-case-images through the site: 202"
done_case() {
	$CURL -o "$T/status.json" "$SITE/api/case-images/deb-case-1" &&
	    [ "$(jq -r .status "$T/status.json")" = completed ]
}
check "the case completes (offline provider)" wait_for 60 done_case
url=$(jq -r '.evidenceImages | to_entries[0].value' "$T/status.json")
is "$($CURL -o "$T/img" -w '%{http_code} %{content_type}' "$SITE$url")" "200 image/jpeg" \
    "nginx (www-data) serves its image from /var/lib/imagegen/media"

# 6. Purge while a worker is at work: no process is left, the database is.
make_case deb-case-2 8 2
$CURL -o /dev/null -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    --data-binary "@$T/deb-case-2.json" "$SITE/api/generate-case-images"
generating() {
	[ "$(sqlite3 /var/lib/imagegen/imagegen.db "SELECT status FROM jobs
	    WHERE case_id = 'deb-case-2'")" = generating ]
}
check "a second case is at work" wait_for 20 generating
$APT purge imagegen > "$T/purge.log" 2>&1
is "$?" 0 "apt-get purge imagegen"
[ -n "${RESPONDER:-}" ] && wait_exit "$RESPONDER" 15 >/dev/null
is "$(ps -u imagegen -o pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 == "imagegen"' | tr '\n' ' ')" "" \
    "no imagegen process is left"
check "the config is gone" test ! -e /etc/imagegen/imagegen.conf
check "... and so is its stat override" sh -c '! dpkg-statoverride --list /etc/imagegen/imagegen.conf'
check "the units are no longer enabled" test ! -e /etc/systemd/system/sockets.target.wants/imagegen.socket
is "$(sqlite3 /var/lib/imagegen/imagegen.db "SELECT count(*) FROM jobs")" 2 \
    "the database is kept, with its jobs"

done_testing
