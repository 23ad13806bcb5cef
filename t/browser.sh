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
# puppeteer-core: npm ci puts it in t/browser/node_modules (check.sh does),
# or NODE_PATH names a node_modules that has it. A read-only tree, as
# make distcheck unpacks, cannot take an npm ci (nor reach the registry
# from a test): without NODE_PATH the browser tests skip there.
if [ ! -d "$top_srcdir/t/browser/node_modules/puppeteer-core" ] &&
    [ ! -d "${NODE_PATH:-/nonexistent}/puppeteer-core" ]; then
	# Its mode, not access(2): root may write where make distcheck forbade it.
	if [ -n "$(find "$top_srcdir" -maxdepth 0 ! -perm -u+w)" ]; then
		echo "1..0 # SKIP a read-only source tree (make distcheck) without puppeteer-core:" \
		    "set NODE_PATH to a node_modules that has it (check.sh does)"
		trap - EXIT; rm -rf "$T"; exit 0
	fi
	bail "no puppeteer-core: run 'npm ci' in $top_srcdir/t/browser (check.sh does)"
fi
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
