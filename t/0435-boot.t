#!/bin/sh
# The Debian package under systemd as PID 1, in a booted Debian 12
# container (systemd-nspawn -b, its own network namespace, so Debian's
# nginx has port 80 to itself): the README's steps, word for word
# (apt-get install ./imagegen_*.deb, the edit, the site enabled, nginx
# reloaded), nothing started by hand, give a service that answers
# through the system nginx; after the container reboots, the socket is
# listening again, /run/imagegen is back (tmpfiles.d), and a second case
# completes, its worker detached from the responder but inside the
# hardened imagegen.service (seccomp, no capabilities, ProtectSystem=strict)
# and writing its images. apt-get purge removes the site's link and
# reloads nginx, which passes nginx -t and gives the name to Debian's
# default site; installed again the same way, the first case is back.
#
# The Debian tree comes from debootstrap once and is kept, pristine, in
# $IMAGEGEN_BOOT_CACHE (/var/cache/imagegen-test by default); each run
# boots a copy of it. Root only, plain suite only, like t/0430.
. "$(dirname "$0")/lib.sh"

skip_all() { echo "1..0 # SKIP $*"; trap - EXIT; rm -rf "$T"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "boots a container: needs root"
grep -q '^SANITIZER_CFLAGS = -f' "$top_builddir/Makefile" &&
    skip_all "the package's own build is not a sanitizer build: the plain suite runs this"
for c in dpkg-buildpackage debootstrap systemd-nspawn nsenter; do
	command -v $c >/dev/null || bail "$c is missing (deps.sh installs it)"
done

CACHE=${IMAGEGEN_BOOT_CACHE:-/var/cache/imagegen-test}
# What the container needs besides debootstrap's minbase: systemd as init,
# Debian's nginx, the package's libraries (so apt-get needs no mirror
# inside), and curl, jq, sqlite3 and ss (iproute2) to look at it.
INCLUDE=systemd,systemd-sysv,dbus,nginx-light,curl,jq,sqlite3,procps,ca-certificates,libfcgi0ldbl,libcurl4,libcjson1,libmagickwand-6.q16-6,libsqlite3-0,libpq5,libssl3,libpng16-16,iproute2
TREE=$CACHE/bookworm
NSPAWN_PID=
ROOT=$T/root
# No machined nor a scope unit: the host's PID 1 need not be systemd.
MACHINE=imagegen-boot-$$
NSPAWN="-q --register=no --keep-unit -M $MACHINE"
restore() {
	if [ -n "$NSPAWN_PID" ] && ! exited "$NSPAWN_PID"; then
		# SIGTERM: nspawn asks the container's systemd to power off.
		kill "$NSPAWN_PID" 2>/dev/null
		wait_exit "$NSPAWN_PID" 60 >/dev/null
	fi
	[ -d "$ROOT" ] && rm -rf --one-file-system "$ROOT"
	# nspawn leaves it where the host's /run is not a tmpfs.
	rm -rf "/run/systemd/nspawn/propagate/$MACHINE"
}
before_cleanup restore

# 1. The Debian tree: debootstrap's, made once.
# One run at a time makes it, the others wait for it.
t0=$(date +%s)
mkdir -p "$CACHE" && exec 9>"$TREE.lock" && flock -w 900 9 || bail "cannot lock $TREE.lock"
if [ "$(cat "$TREE.include" 2>/dev/null)" != "$INCLUDE" ]; then
	mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	rm -rf "$TREE" "$TREE.tmp" "$TREE.include"
	debootstrap --variant=minbase --include="$INCLUDE" bookworm "$TREE.tmp" \
	    "${mirror:-http://deb.debian.org/debian}" > "$T/debootstrap.log" 2>&1 ||
	    { tail -20 "$T/debootstrap.log" | sed 's/^/# /'; bail "debootstrap failed"; }
	# Machine-id empty: each boot of a copy makes its own.
	: > "$TREE.tmp/etc/machine-id"
	mv "$TREE.tmp" "$TREE" && echo "$INCLUDE" > "$TREE.include"
	how=debootstrap
else
	how="cached in $TREE"
fi
cp -a "$TREE" "$ROOT" || bail "cannot copy $TREE"
exec 9>&-
ok 0 "a Debian 12 tree ($how, copied: $(($(date +%s) - t0)) s)"

# Where nspawn cannot run (no namespaces, a container without
# CAP_SYS_ADMIN), say so and stop.
if ! out=$(systemd-nspawn $NSPAWN -D "$ROOT" /bin/true 2>&1); then
	skip_all "systemd-nspawn cannot run here: $(echo "$out" | tail -1)"
fi

# 2. The package, built from these sources as t/0430 builds it.
build_deb
[ -n "$deb" ] || { tail -30 "$T/build.log" | sed 's/^/# /'; bail "no package"; }
ok 0 "dpkg-buildpackage builds ${deb##*/} ($DEB_SECS s)"
cp "$deb" "$ROOT/root/"

# 3. Boot it. The container's PID 1 is nspawn's child named systemd;
# commands run in it by nsenter (no machined on a host without systemd).
boot() {
	systemd-nspawn $NSPAWN --private-network -b -D "$ROOT" \
	    </dev/null >>"$T/console.log" 2>&1 &
	NSPAWN_PID=$!
	LEADER=
	wait_for 30 find_leader || return 1
	state=
	wait_for 120 booted
}
booted() {	# degraded is fine (a unit a container cannot run); starting is not.
	state=$(in_ct systemctl is-system-running 2>/dev/null)
	[ "$state" = running ] || [ "$state" = degraded ]
}
find_leader() {
	for p in $(ps -o pid= --ppid "$NSPAWN_PID"); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = systemd ] && LEADER=$p && return 0
	done
	return 1
}
in_ct() {
	nsenter -t "$LEADER" -m -u -i -n -p -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    HOME=/root LANG=C.UTF-8 "$@"
}
t0=$(date +%s)
boot || { tail -20 "$T/console.log" | sed 's/^/# /'; bail "the container did not boot"; }
ok 0 "the container boots, systemd as PID 1: $state ($(($(date +%s) - t0)) s)"

# 4. Install and edit as the README says, word for word, start nothing by
# hand; then what this test adds: the offline provider.
readme_block 'apt-get install ./imagegen_*.deb' > "$ROOT/root/readme.sh"
printf 'APT::Get::Assume-Yes "true";\nquiet "1";\n' > "$ROOT/root/apt.conf"
install_as_readme() {	# install_as_readme LOG: sets TOKEN
	in_ct sh -c "cd /root && APT_CONFIG=/root/apt.conf DEBIAN_FRONTEND=noninteractive sh -e readme.sh" \
	    > "$1" 2>&1
	rc=$?
	TOKEN=$(sed -n 's/^api_tokens = //p' "$ROOT/etc/imagegen/imagegen.conf" 2>/dev/null)
	printf 'provider = local\nlocal_delay = 400\n' >> "$ROOT/etc/imagegen/imagegen.conf"
	return $rc
}
install_as_readme "$T/install.log"
is "$?" 0 "the README's steps in the container: install, edit, enable the site, reload nginx" ||
    tail -20 "$T/install.log" | sed 's/^/# /'
check "... and systemd as PID 1 is not reported missing" sh -c "! grep -q 'systemd is not running' '$T/install.log'"

# run_case ID: one case through nginx on port 80, inside; waits for it.
CURL="curl -s -m 30 --resolve images.example.com:80:127.0.0.1"
SITE=http://images.example.com
submit() {
	make_case "$1" "$2" "$3"
	cp "$T/$1.json" "$ROOT/root/"
	in_ct $CURL -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	    -H "Authorization: Bearer $TOKEN" --data-binary "@/root/$1.json" \
	    $SITE/api/generate-case-images
}
# systemctl reload nginx returns before the old workers stop taking
# requests: under load a POST right after it met Debian's default site (a
# 404, CI). The site is up when an unknown case gets imagegen's JSON 404.
site_up() {
	[ "$(in_ct $CURL -o /dev/null -w '%{http_code} %{content_type}' \
	    "$SITE/api/case-images/no-such-case")" = "404 application/json" ]
}
completed() {
	in_ct $CURL -o /root/status.json "$SITE/api/case-images/$1" &&
	    [ "$(jq -r .status "$ROOT/root/status.json")" = completed ]
}
check "nginx serves the site once reloaded" wait_for 30 site_up
is "$(submit boot-case-1 2 1)" 202 "POST a case through the system nginx: 202"
check "... and it completes" wait_for 60 completed boot-case-1
url=$(jq -r '.evidenceImages | to_entries[0].value' "$ROOT/root/status.json")
is "$(in_ct $CURL -o /dev/null -w '%{http_code} %{content_type}' "$SITE$url")" \
    "200 image/jpeg" "nginx serves its image"

# 5. Reboot: systemd inside reboots, nspawn exits 133; boot it again.
t0=$(date +%s)
in_ct systemctl reboot
wait_exit "$NSPAWN_PID" 60
is "$?" 133 "systemctl reboot: the container goes down for a reboot"
NSPAWN_PID=
boot || { tail -20 "$T/console.log" | sed 's/^/# /'; bail "the container did not boot again"; }
ok 0 "it boots again: $state ($(($(date +%s) - t0)) s for the reboot)"
is "$(in_ct systemctl is-active imagegen.socket imagegen-reap.timer | tr '\n' ' ')" \
    "active active " "the socket and the reap timer are active after the reboot"
check "the socket is listening" in_ct sh -c "ss -xlH | grep -q ' /run/imagegen/imagegen.sock '"
is "$(in_ct stat -c '%a %U:%G' /run/imagegen)" "755 imagegen:imagegen" \
    "/run/imagegen is back, the user's (tmpfiles.d)"

# 6. A second case; its worker is caught at work, in the hardened unit.
is "$(submit boot-case-2 6 2)" 202 "POST a second case after the reboot: 202"
worker() {
	main=$(in_ct systemctl show -P MainPID imagegen.service)
	for p in $(in_ct pgrep -u imagegen -x imagegen); do
		[ "$p" != "$main" ] && WORKER=$p && return 0
	done
	return 1
}
WORKER=
check "a worker runs beside the responder" wait_for 30 worker
if [ -n "$WORKER" ]; then
	in_ct cat /proc/$WORKER/status > "$T/worker.status"
	in_ct cat /proc/$WORKER/cgroup > "$T/worker.cgroup"
	check "... in imagegen.service's cgroup" grep -q '/system.slice/imagegen.service$' "$T/worker.cgroup"
	is "$(awk '/^(Seccomp|NoNewPrivs|CapEff):/ { printf "%s %s ", $1, $2 }' "$T/worker.status")" \
	    "CapEff: 0000000000000000 NoNewPrivs: 1 Seccomp: 2 " \
	    "... under its sandbox: seccomp filter, no new privileges, no capabilities"
else
	skip 2 "no worker to look at"
fi
check "the second case completes" wait_for 90 completed boot-case-2
n=$(in_ct find /var/lib/imagegen/media -path '*boot-case-2*' -name '*.jpg' -user imagegen | wc -l)
is "$n" 8 "its worker wrote its 8 images in /var/lib/imagegen/media"
in_ct journalctl -q -u imagegen.service --no-pager > "$T/journal.log" 2>&1
is "$(grep -ci 'permission denied\|operation not permitted\|read-only file system' "$T/journal.log")" 0 \
    "imagegen's journal has no EPERM, EACCES or EROFS" || tail -20 "$T/journal.log" | sed 's/^/# /'

# 7. Purge: the site's link goes, nginx is reloaded and answers the name
# with Debian's default site; installed again as the README says, the
# kept database serves the first case again.
in_ct sh -c "APT_CONFIG=/root/apt.conf apt-get purge imagegen" > "$T/purge.log" 2>&1
is "$?" 0 "apt-get purge imagegen in the container" || tail -20 "$T/purge.log" | sed 's/^/# /'
check "the site's link in sites-enabled is gone" test ! -L "$ROOT/etc/nginx/sites-enabled/imagegen"
out=$(in_ct nginx -t 2>&1)
is "$?" 0 "nginx -t passes after the purge" || echo "$out" | sed 's/^/# /'
check "... and the purge reloaded nginx" grep -q '^imagegen: nginx reloaded' "$T/purge.log"
default_site() {
	[ "$(in_ct $CURL -o /dev/null -w '%{http_code} %{content_type}' \
	    "$SITE/api/case-images/boot-case-1")" = "404 text/html" ]
}
check "the name is Debian's default site's now" wait_for 30 default_site
install_as_readme "$T/install2.log"
is "$?" 0 "installed again by the README's steps" || tail -20 "$T/install2.log" | sed 's/^/# /'
check "the first case is served again, from the kept database" wait_for 30 completed boot-case-1

# 8. A server that still includes the snippet at a purge: nginx -t fails
# once the snippet is gone, so nginx is not reloaded, and the purge says
# what to do.
sed -i 's|^\tserver_name _;|&\n\tinclude snippets/imagegen.conf;|' "$ROOT/etc/nginx/sites-available/default"
in_ct sh -c "nginx -t -q && systemctl reload nginx" > "$T/include.log" 2>&1
is "$?" 0 "the snippet included in Debian's default site" || sed 's/^/# /' "$T/include.log"
in_ct sh -c "APT_CONFIG=/root/apt.conf apt-get purge imagegen" > "$T/purge2.log" 2>&1
is "$?" 0 "apt-get purge imagegen with the snippet still included"
check "... says nginx -t fails, and was not reloaded" grep -q 'nginx -t fails, so nginx was not reloaded' "$T/purge2.log"
check "... names the include left behind" grep -q 'snippets/imagegen.conf' "$T/purge2.log"
check "... and says what to do" grep -q 'remove what names imagegen there, then reload nginx' "$T/purge2.log"
grep '^imagegen:\|^  ' "$T/purge2.log" | sed 's/^/# /'

done_testing
