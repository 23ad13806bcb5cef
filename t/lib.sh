# t/lib.sh: shared by every t/*.t script: TAP output, a private directory,
# HTTP and JSON helpers, and the real stack from t/stack.sh, stopped by pid
# when the script exits.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/stack.sh"
API_KEY=test-key-$$-secret
export GEMINI_API_KEY=$API_KEY

T=$(mktemp -d "${TMPDIR:-/tmp}/imagegen-t.XXXXXX")
tap_n=0
tap_failed=0

ok() {	# ok CONDITION-STATUS DESCRIPTION
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

check() {	# check DESCRIPTION COMMAND...: passes when the command does
	desc=$1; shift
	if "$@"; then ok 0 "$desc"; else ok 1 "$desc"; fi
}

is() {	# is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:  '$1'"
		echo "#   want: '$2'"
	fi
}

jcheck() {	# jcheck DESCRIPTION JQ-EXPRESSION [FILE]: passes when it is true
	# jq -e is true on empty input: an empty body must not pass.
	if [ -s "${3:-$T/body}" ] && jq -e "$2" "${3:-$T/body}" >/dev/null 2>&1; then ok 0 "$1"; else ok 1 "$1"; fi
}

diag() { echo "# $*"; }

bail() { echo "Bail out! $*"; exit 1; }

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

cleanup() {
	stop_stack
	if [ "$tap_failed" -gt 0 ] && [ -f "$T/imagegen.log" ]; then
		echo "# imagegen.log:"; sed 's/^/#   /' "$T/imagegen.log" | tail -40
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# http METHOD PATH [curl options...]: sets CODE, leaves the body in $T/body
# and the headers in $T/headers.
http() {
	method=$1 path=$2; shift 2
	rm -f "$T/body" "$T/headers"
	# curl -X HEAD would wait for the body Content-Length announces; --head does not.
	if [ "$method" = HEAD ]; then set -- --head "$@"; else set -- -X "$method" "$@"; fi
	CODE=$(curl -s -m 30 -D "$T/headers" -o "$T/body" \
	    -w '%{http_code}' "$@" "$BASE$path")
}

post_json() {	# post_json PATH FILE [curl options...]
	p=$1 f=$2; shift 2
	http POST "$p" -H 'Content-Type: application/json' --data-binary "@$f" "$@"
}

json() {	# json JQ-FILTER [FILE]: query the last body, or FILE
	jq -r "$1" "${2:-$T/body}"
}

jsonc() {	# jsonc JQ-FILTER: compact JSON of the last body
	jq -c "$1" "$T/body"
}

header() {	# header NAME: a header of the last response
	tr -d '\r' < "$T/headers" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" \
	    'BEGIN{FS=": "} tolower($1)==n {print $2}' | tail -1
}

# make_case ID NEVIDENCE NLOCATIONS [webhookUrl] [fault-spec...]:
# a case body in $T/ID.json. A fault-spec "ITEM=FAULT" puts the mock's
# marker [[fault:FAULT]] into that item's description.
make_case() {
	id=$1 ne=$2 nl=$3 hook=${4:-}; shift 3; [ $# -gt 0 ] && shift
	"$PYTHON3" - "$id" "$ne" "$nl" "$hook" "$@" > "$T/$id.json" <<-'PY'
	import json, sys
	cid, ne, nl, hook = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
	faults = dict(a.split("=", 1) for a in sys.argv[5:])
	def item(prefix, i, what):
	    iid = f"{prefix}-{i}"
	    d = f"{what} number {i} of case {cid}"
	    if iid in faults:
	        d += f" [[fault:{faults[iid]}]]"
	    return {"id": iid, "name": f"{what} {i}", "description": d}
	body = {"caseId": cid,
	        "evidence": [item("ev", i, "Evidence") for i in range(ne)],
	        "locations": [item("loc", i, "Location") for i in range(nl)]}
	if hook:
	    body["webhookUrl"] = hook
	print(json.dumps(body))
	PY
}

job_status() {	# the status of a case, straight from the store
	sqlite3 "$T/imagegen.db" "SELECT status FROM jobs WHERE case_id = '$1'"
}

is_final() {
	case $(job_status "$1") in completed|partial|failed) return 0 ;; esac
	return 1
}

wait_final() {	# wait_final CASEID SECONDS
	wait_for "$2" is_final "$1"
}
