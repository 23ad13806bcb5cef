#!/bin/sh
# The Debian package, end to end, on this host, as an operator follows the
# README word for word: dpkg-buildpackage builds it from a copy of the
# sources, lintian finds no error, and no file of it names /usr/local.
# With Debian's nginx running on port 80, the README's steps install it
# (the imagegen user, its directories, the conffile 0640 root:imagegen,
# the database, the units enabled, the nginx site and snippet), name the
# site and enable it. Where systemd is not PID 1 (here, as a rule) the
# package says so and prints the command that starts the responder, the
# README's; it is run as printed. A case goes through Debian's nginx, next
# to Debian's default site, on the offline provider.
# apt-get purge, with a worker at work, leaves no imagegen process,
# removes the config and the site's link in sites-enabled (nginx -t
# passes), and keeps the database; installed again by the same steps, the
# first case is still served and the case the purge stopped completes.
# The test then purges and removes what the package kept, and the user,
# so the host is as it was.
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
# The README's apt-get, typed as it is: the answer and the wait for
# another apt come from here.
printf 'APT::Get::Assume-Yes "true";\nDPkg::Lock::Timeout "600";\nquiet "1";\n' > "$T/apt.conf"
export APT_CONFIG="$T/apt.conf"
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
dpkg-deb -x "$deb" "$T/pkg"
is "$({ grep -rIl /usr/local "$T/pkg"; for m in "$T"/pkg/usr/share/man/man*/*.gz; do
    zgrep -q /usr/local "$m" && echo "$m"; done; } | sed "s|^$T/pkg||" | tr '\n' ' ')" "" \
    "no file of the package names /usr/local, nor its man pages"
dpkg-deb -e "$deb" "$T/control"
is "$(sort "$T/control/conffiles" | tr '\n' ' ')" \
    "/etc/imagegen/imagegen.conf /etc/nginx/sites-available/imagegen /etc/nginx/snippets/imagegen.conf " \
    "the config, the site and the snippet are conffiles"

# 2. Debian's nginx runs, as it does once installed, with its default site.
port80_free() {
	"$PYTHON3" -c 'import socket
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 80)); s.close()' 2>/dev/null
}
STEPS=$T/readme.sh
readme_block 'apt-get install ./imagegen_*.deb' > "$STEPS"
check "the README has the package's steps" grep -q '^imagegen config && service nginx reload$' "$STEPS"
if port80_free; then
	# The host's nginx.conf as it is, on port 80; its pid file is ours
	# meanwhile, so the README's reload reaches this nginx.
	nginx -g 'daemon off;' </dev/null >>"$T/nginx.out" 2>&1 &
	NGINX_PID=$!
	PIDS="$PIDS $NGINX_PID"
	PORT=80 HOW="Debian's nginx.conf on port 80"
	wait_for 10 test -s /run/nginx.pid || bail "Debian's nginx did not start"
else
	# Port 80 is taken: the same site, on a free port, by a test nginx
	# started once the site is in place; the README's reload would reach
	# the nginx on port 80, which is not this test's.
	sed -i 's/ && service nginx reload$//' "$STEPS"
	PORT=$(free_port)
	HOW="port 80 is taken: the installed site on port $PORT"
fi
SITE=http://images.example.com:$PORT
CURL="curl -s -m 30 --resolve images.example.com:$PORT:127.0.0.1"

# The README's steps, then what this test adds: the offline provider.
# Where systemd is not PID 1, the responder starts by the command the
# package printed; where it is, by the socket unit, on the edited config.
install_as_readme() {	# install_as_readme LOG: sets TOKEN
	(cd "$T/src" && sh -e "$STEPS") > "$1" 2>&1
	rc=$?
	TOKEN=$(sed -n 's/^api_tokens = //p' /etc/imagegen/imagegen.conf 2>/dev/null)
	# A sweep for orphans every 5 s, not 60: the purge's orphan resumes soon.
	printf 'provider = local\nlocal_delay = 1500\nreap_interval = 5\nlog = %s\n' \
	    /var/log/imagegen/imagegen.log >> /etc/imagegen/imagegen.conf
	return $rc
}
START_LINE="install -d -o imagegen -g imagegen /run/imagegen && spawn-fcgi -s /run/imagegen/imagegen.sock -U www-data -u imagegen -- /usr/bin/imagegen"
start_responder() {	# start_responder INSTALL-LOG: as the package says to
	if [ -d /run/systemd/system ]; then
		systemctl stop imagegen.service
		systemctl start imagegen.socket || return 1
		STARTED=systemd
	else
		# apt's output has carriage returns in it.
		printed=$(tr -d '\r' < "$1" | sed -n '/start it, and again after each boot, with:$/{n;s/^  //;p;}')
		is "$printed" "$START_LINE" "without systemd, the package prints the README's command to start the responder"
		[ -n "$printed" ] || tr -d '\r' < "$1" | grep imagegen: | sed 's/^/# /'
		rm -f /run/imagegen/imagegen.sock
		sh -c "$printed" >>"$T/spawn.out" 2>&1 || return 1
		STARTED="the command printed"
		wait_for 10 test -S /run/imagegen/imagegen.sock
	fi
}
started_nginx() {	# where port 80 is taken: the installed site, on PORT
	[ "$PORT" = 80 ] && return 0
	cp /etc/nginx/fastcgi_params "$T/"
	sed -e "s|listen 80;|listen 127.0.0.1:$PORT;|" -e '/listen \[::\]:80;/d' \
	    /etc/nginx/sites-available/imagegen > "$T/site.conf"
	printf 'user www-data;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/nginx-error.log;\nevents {}\nhttp {\n access_log off;\n include /etc/nginx/mime.types;\n include %s/site.conf;\n}\n' \
	    "$T" "$T" "$T" > "$T/nginx.conf"
	nginx -c "$T/nginx.conf" </dev/null >>"$T/nginx.out" 2>&1 &
	NGINX_PID=$!
	PIDS="$PIDS $NGINX_PID"
}
ours() { $CURL -o /dev/null -w '%{http_code}' "$SITE/api/case-images/none" | grep -qx 404 &&
    $CURL "$SITE/api/case-images/none" | jq -e .error >/dev/null 2>&1; }

# 3. Install, as the README says.
INSTALLED=1
install_as_readme "$T/install.log"
is "$?" 0 "the README's steps: apt-get install ./${deb##*/}, the edit, the site enabled, nginx reloaded" ||
    tail -30 "$T/install.log" | sed 's/^/# /'
[ "$(dpkg-query -W -f '${Status}' imagegen 2>/dev/null)" = "install ok installed" ] ||
    { tail -30 "$T/install.log" | sed 's/^/# /'; bail "not installed"; }
check "the imagegen system user exists (sysusers.d)" sh -c 'getent passwd imagegen >/dev/null'
is "$(stat -c '%a %U:%G' /etc/imagegen/imagegen.conf)" "640 root:imagegen" \
    "the config is 0640 root:imagegen"
is "$(stat -c '%U' /var/lib/imagegen /var/lib/imagegen/media /run/imagegen | tr '\n' ' ')" \
    "imagegen imagegen imagegen " "its directories are the user's (tmpfiles.d)"
is "$(sqlite3 /var/lib/imagegen/imagegen.db 'PRAGMA user_version')/$(stat -c %U /var/lib/imagegen/imagegen.db)" \
    "$(ls "$top_srcdir"/sql/[0-9]*.sql | wc -l)/imagegen" "postinst ran initdb, as the user"
check "... and said nothing of a lost database" sh -c "! grep -q 'restore it from a backup' '$T/install.log'"
check "the socket is enabled" test -L /etc/systemd/system/sockets.target.wants/imagegen.socket
check "the reap timer is enabled" test -L /etc/systemd/system/timers.target.wants/imagegen-reap.timer
check "imagegen --version answers" sh -c "imagegen --version | grep -q '^imagegen '"
check "the README's steps leave a token in the config" test -n "$TOKEN"
out=$(imagegen config 2>&1 >/dev/null)
is "$?/$out" "0/" "imagegen config accepts the config, with no warning (the mode is right)"
out=$(nginx -t 2>&1)
is "$?" 0 "nginx -t with the site enabled beside Debian's default"
check "... and no conflicting server name, nor any warning" sh -c "! echo '$out' | grep -q 'conflicting\|\[warn\]'"
echo "$out" | grep '\[warn\]' | sed 's/^/# /'

start_responder "$T/install.log" || bail "the responder did not start"
ok 0 "the responder is started ($STARTED)"
started_nginx
check "nginx serves the site, to imagegen ($HOW)" wait_for 10 ours

# 4. One case, through nginx, with the installed site.
post_case() {	# post_case ID: the HTTP status
	$CURL -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
	    -H "Authorization: Bearer $TOKEN" --data-binary "@$T/$1.json" \
	    "$SITE/api/generate-case-images"
}
completed() {
	$CURL -o "$T/status.json" "$SITE/api/case-images/$1" &&
	    [ "$(jq -r .status "$T/status.json")" = completed ]
}
make_case deb-case-1 2 1
is "$(post_case deb-case-1)" 202 "POST /api/generate-case-images through the site: 202"
check "the case completes (offline provider)" wait_for 60 completed deb-case-1
url=$(jq -r '.evidenceImages | to_entries[0].value' "$T/status.json")
is "$($CURL -o "$T/img" -w '%{http_code} %{content_type}' "$SITE$url")" "200 image/jpeg" \
    "nginx (www-data) serves its image from /var/lib/imagegen/media"

# 5. Purge while a worker is at work: no process is left, the database is,
# and nginx works: the site's link goes with the site.
make_case deb-case-2 8 2
post_case deb-case-2 >/dev/null
generating() {
	[ "$(sqlite3 /var/lib/imagegen/imagegen.db "SELECT status FROM jobs
	    WHERE case_id = 'deb-case-2'")" = generating ]
}
check "a second case is at work" wait_for 20 generating
$APT purge imagegen > "$T/purge.log" 2>&1
is "$?" 0 "apt-get purge imagegen"
imagegen_pids() { ps -u imagegen -o pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 == "imagegen"'; }
is "$(imagegen_pids | tr '\n' ' ')" "" "no imagegen process is left"
check "the config is gone" test ! -e /etc/imagegen/imagegen.conf
check "... and so is its stat override" sh -c '! dpkg-statoverride --list /etc/imagegen/imagegen.conf'
check "the units are no longer enabled" test ! -e /etc/systemd/system/sockets.target.wants/imagegen.socket
is "$(sqlite3 /var/lib/imagegen/imagegen.db "SELECT count(*) FROM jobs")" 2 \
    "the database is kept, with its jobs"
check "the site's link in sites-enabled is gone" test ! -L "$SITE_LINK"
check "... and the purge said so" grep -q "imagegen: removed $SITE_LINK, which enabled the purged site" "$T/purge.log"
out=$(nginx -t 2>&1)
is "$?" 0 "nginx -t passes after the purge" || echo "$out" | sed 's/^/# /'
if grep -q '^imagegen: nginx reloaded' "$T/purge.log"; then
	check "... and nginx, reloaded, no longer routes the site to imagegen" sh -c "! $CURL '$SITE/api/case-images/none' | grep -q error"
else
	skip 1 "$(grep '^imagegen: nginx was not reloaded' "$T/purge.log" || echo "the purge said nothing of nginx")"
fi

# 6. Installed again by the same steps: the kept database serves the first
# case, and the responder resumes the case the purge stopped.
install_as_readme "$T/install2.log"
is "$?" 0 "installed again by the README's steps" || tail -30 "$T/install2.log" | sed 's/^/# /'
start_responder "$T/install2.log" || bail "the responder did not start again"
check "nginx serves the site again, to imagegen" wait_for 10 ours
check "the first case is served again from the kept database" completed deb-case-1
wait_for 60 completed deb-case-2
rc=$?
ok $rc "the case the purge stopped resumes and completes"
[ $rc -eq 0 ] || { $CURL -w '%{http_code}\n' "$SITE/api/case-images/deb-case-2" | cut -c1-200
    imagegen show deb-case-2; tail -30 /var/log/imagegen/imagegen.log; } 2>&1 | sed 's/^/# /'

done_testing
