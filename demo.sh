#!/bin/sh
# demo.sh: build imagegen, start nginx and the FastCGI responder on
# loopback with the offline provider, submit a 14-image case (10 evidence
# photos, 4 location shots), show its progress until it finishes and say
# where the images are and the URL of its page. `./demo.sh stop` stops what it started.
set -eu
cd "$(dirname "$0")"
top_srcdir=$(pwd)
# After an in-tree ./configure && make, the demo uses that build: a VPATH
# build in build/ would be refused while it is there.
if [ -f config.status ]; then top_builddir=$top_srcdir; else top_builddir=$top_srcdir/build; fi
# The demo's folder: IMAGEGEN_DEMO_DIR, else one of this checkout's own,
# so that demos of other checkouts on the host are left alone.
T=${IMAGEGEN_DEMO_DIR:-${TMPDIR:-/tmp}/imagegen-demo-$(printf %s "$top_srcdir" | cksum | cut -d' ' -f1)}

# A pid of the demo's own: its command line or its environment names $T
# (nginx's -p, the responder's IMAGEGEN_CONFIG). A pid left in the list by
# a demo of before a reboot may be another program's now.
ours() {
	{ tr '\0' '\n' < "/proc/$1/cmdline"; tr '\0' '\n' < "/proc/$1/environ"; } 2>/dev/null |
	    grep -qF "$T/"
}

if [ "${1:-}" = stop ]; then
	[ -f "$T/pids" ] || exit 0
	. "$top_srcdir/t/stack.sh"
	PIDS=
	for p in $(cat "$T/pids"); do ours "$p" && PIDS="$PIDS $p"; done
	stop_stack && rm -f "$T/pids" && echo "demo stopped ($T)"
	exit 0
fi

sh ./deps.sh
echo "building imagegen in $top_builddir..."
if [ ! -f "$top_builddir/Makefile" ]; then
	autoreconf -fi >/dev/null 2>&1
	mkdir -p build && (cd build && ../configure --quiet)
fi
make -C "$top_builddir" -j2 >/dev/null
[ -f "$T/pids" ] && "$0" stop
rm -rf "$T" && mkdir -p "$T"
. "$top_srcdir/t/stack.sh"

# The demo's own config: the built-in offline provider, no key, no network.
write_config "provider = local" "local_delay = 700" "log_level = info"
start_imagegen
start_nginx
echo "$PIDS" > "$T/pids"
echo "nginx on $BASE, imagegen behind it; config $T/imagegen.conf"
echo "The provider is the offline one (provider = local): the pictures are"
echo "placeholders drawn from each prompt, not photos from the image API."

python3 - > "$T/case.json" <<'PY'
import json
evidence = ["Bloodstained letter opener", "Torn theatre ticket", "Muddy boot print",
            "Cracked pocket watch", "Half-burnt diary page", "Empty vial of laudanum",
            "Monogrammed handkerchief", "Pawn shop receipt", "Broken cufflink",
            "Train timetable with a circled time"]
locations = ["The manor library", "Rain-soaked train platform", "Back room of the pawn shop",
             "The theatre's dressing room"]
print(json.dumps({
    "caseId": "demo-case-1",
    "evidence": [{"id": f"evidence-{i + 1}", "name": n, "description": f"{n}, found at the scene"}
                 for i, n in enumerate(evidence)],
    "locations": [{"id": f"location-{i + 1}", "name": n, "description": f"{n} at night"}
                  for i, n in enumerate(locations)]}))
PY
echo "Watch it in a browser:  $BASE/cases/demo-case-1   (all jobs: $BASE/cases/)"
echo "POST /api/generate-case-images:"
curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $API_TOKEN" \
    --data-binary "@$T/case.json" \
    "$BASE/api/generate-case-images"
echo

status=pending
tries=0
while :; do
	curl -s "$BASE/api/case-images/demo-case-1" > "$T/status.json"
	status=$(jq -r .status "$T/status.json")
	echo "  $(date +%T)  $status  $(jq -r '"\(.completedImages)/\(.totalImages) done, \(.failedImages) failed"' "$T/status.json")"
	case $status in completed|partial|failed) break ;; esac
	tries=$((tries + 1))
	[ $tries -ge 120 ] && { echo "the demo job did not finish in 60 s" >&2; exit 1; }
	sleep 0.5
done

echo
echo "The job is $status. Its images are in $T/media/demo-case-1/:"
ls -l "$T/media/demo-case-1"
echo
echo "and nginx serves them, for example:"
jq -r '.evidenceImages, .locationImages | to_entries[] | "  \(.key): '"$BASE"'\(.value)"' \
    "$T/status.json" | head -4
echo "  ..."
echo
echo "See the case:     $BASE/cases/demo-case-1"
echo "All the jobs:     $BASE/cases/"
echo "Try the API by hand, with the demo's token ($API_TOKEN):"
echo "  curl -s -H 'Content-Type: application/json' -H 'Authorization: Bearer $API_TOKEN' \\"
echo "    -d '{\"caseId\":\"my-case\",\"evidence\":[{\"id\":\"ev-1\",\"name\":\"Brass key\",\"description\":\"A small brass key\"}],\"locations\":[{\"id\":\"loc-1\",\"name\":\"Harbour\",\"description\":\"A dock at night\"}]}' \\"
echo "    $BASE/api/generate-case-images"
echo "  curl -s $BASE/api/case-images/my-case"
echo
echo "Inspect the job:  ${top_builddir#$top_srcdir/}/src/imagegen -c $T/imagegen.conf show demo-case-1"
echo "           or:    sqlite3 $T/imagegen.db 'SELECT * FROM job_progress'"
echo "Stop the demo:    ./demo.sh stop"
[ "$status" = completed ]
