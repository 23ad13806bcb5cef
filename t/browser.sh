# t/browser.sh: sourced after t/lib.sh by the browser tests (t/047*.t to
# t/049*.t): runs one script of t/browser/ in the system chromium (or,
# with BROWSER=firefox, firefox-esr) against
# the stack the test started, and turns its result lines into TAP.
# check.sh installs puppeteer-core there (npm ci, t/browser/package-lock.json).

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SHOTS=$top_builddir/t/screenshots
export CHROMIUM SHOTS

if [ "${BROWSER:-chromium}" = firefox ]; then
	FIREFOX=${FIREFOX:-/usr/bin/firefox-esr}
	export BROWSER FIREFOX
	[ -x "$FIREFOX" ] || bail "no $FIREFOX: install Debian's firefox-esr (deps.sh test does)"
else
	[ -x "$CHROMIUM" ] || bail "no $CHROMIUM: install Debian's chromium (deps.sh does)"
fi
command -v node >/dev/null || bail "no node: install Debian's nodejs (deps.sh does)"
[ -d "$top_srcdir/t/browser/node_modules/puppeteer-core" ] ||
    bail "no puppeteer-core: run 'npm ci' in $top_srcdir/t/browser (check.sh does)"
mkdir -p "$SHOTS"

browser_run() {	# browser_run SCRIPT SECONDS: t/browser/SCRIPT, killed after SECONDS
	: > "$T/results"
	BASE=$BASE T=$T RESULTS=$T/results timeout -k 5 "$2" \
	    node "$top_srcdir/t/browser/$1" >"$T/node.out" 2>&1
	rc=$?
	while IFS="$(printf '\t')" read -r mark text; do
		case $mark in
		ok) ok 0 "$text" ;;
		"not ok") ok 1 "$text" ;;
		*) diag "$text" ;;
		esac
	done < "$T/results"
	is "$rc" 0 "the browser script $1 exits 0"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/node.out" | tail -20
}
