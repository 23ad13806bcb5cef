#!/bin/sh
# deps.sh: install, from Debian's packages, what imagegen needs to build,
# run and test and is not installed yet. Run as root on Debian 12.
set -eu
PACKAGES="build-essential autoconf automake pkg-config
	libfcgi-dev libcurl4-openssl-dev libcjson-dev libmagickwand-dev
	libsqlite3-dev libssl-dev libpng-dev
	nginx-light spawn-fcgi fcgiwrap sqlite3 curl jq python3 imagemagick mandoc
	systemd"
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
apt-get update -qq
# Debian starts nginx on port 80 when it is installed; the demo and tests run their own.
apt-get install -y -qq --no-install-recommends $missing >/dev/null
