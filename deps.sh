#!/bin/sh
# deps.sh: install, from Debian's packages, what imagegen needs to build,
# run, test and package and is not installed yet. Run as root on Debian 12.
# It waits (10 minutes at most) for another apt or dpkg to finish, shows
# what apt does, and stops and disables the services Debian starts as it
# installs nginx, prometheus and postgresql: the demo and the tests run
# their own nginx and PostgreSQL clusters, and the package test (t/0430)
# Debian's nginx, on port 80.
set -eu
PACKAGES="build-essential autoconf automake pkg-config
	libfcgi-dev libcurl4-openssl-dev libcjson-dev libmagickwand-dev
	libsqlite3-dev libssl-dev libpng-dev
	nginx-light spawn-fcgi fcgiwrap sqlite3 curl jq python3 imagemagick mandoc
	systemd procps debhelper dpkg-dev fakeroot lintian prometheus"
# t/0435 boots the package in a Debian 12 container.
PACKAGES="$PACKAGES debootstrap systemd-container"
# The store's second engine: libpq to build against, and PostgreSQL 15's
# server and psql, of which the tests start throwaway clusters (t/pg.sh).
PACKAGES="$PACKAGES libpq-dev postgresql postgresql-client"
# `deps.sh test`, as check.sh runs it: also what the browser tests drive
# (t/047*.t to t/049*.t): chromium and firefox-esr, and node with npm for
# puppeteer-core (any node 18 or later; NodeSource's carries its own npm).
if [ "${1:-}" = test ]; then
	PACKAGES="$PACKAGES chromium firefox-esr"
	command -v npm >/dev/null || PACKAGES="$PACKAGES nodejs npm"
fi

missing=
for p in $PACKAGES; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
LOCK="-o DPkg::Lock::Timeout=600"
if fuser /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock >/dev/null 2>&1; then
	echo "deps.sh: another apt or dpkg is running; waiting for it (10 minutes at most)"
fi
apt-get $LOCK update -q
apt-get $LOCK install -y -q --no-install-recommends $missing

# Debian starts what it installs; on port 80 (nginx) and 9090 (prometheus)
# they would answer in the demo's and the tests' place, and Debian's
# PostgreSQL cluster (5432) would only take memory: the tests start their own.
for svc in nginx prometheus postgresql; do
	case " $missing " in *" $svc"[-\ ]*) ;; *) continue ;; esac
	echo "deps.sh: stopping and disabling the $svc service Debian started"
	if [ -d /run/systemd/system ]; then
		systemctl disable --now "$svc" 2>/dev/null || true
	else
		[ -x "/etc/init.d/$svc" ] && "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
		systemctl disable "$svc" >/dev/null 2>&1 || true
		update-rc.d "$svc" disable >/dev/null 2>&1 || true
	fi
done
