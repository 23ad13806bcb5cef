# t/lib.sh: shared by every t/*.t script. TAP output, a private directory,
# and the real stack: the mock image API, nginx, the imagegen FastCGI
# responder (or fcgiwrap for CGI), each started here, on free loopback
# ports, and stopped by pid when the script exits.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${NGINX:=$(command -v nginx || echo /usr/sbin/nginx)}"
: "${SPAWN_FCGI:=$(command -v spawn-fcgi || echo /usr/bin/spawn-fcgi)}"
: "${FCGIWRAP:=$(command -v fcgiwrap || echo /usr/sbin/fcgiwrap)}"
: "${PYTHON3:=python3}"
IMAGEGEN=$top_builddir/src/imagegen
API_KEY=test-key-$$-secret
export GEMINI_API_KEY=$API_KEY

T=$(mktemp -d "${TMPDIR:-/tmp}/imagegen-t.XXXXXX")
PIDS=
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

# Every worker a test's jobs started is stopped too: they are detached.
cleanup() {
	if [ -f "$T/imagegen.db" ] && command -v sqlite3 >/dev/null; then
		for p in $(sqlite3 "$T/imagegen.db" \
		    "SELECT worker_pid FROM jobs WHERE worker_pid IS NOT NULL" 2>/dev/null); do
			kill "$p" 2>/dev/null
		done
	fi
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	if [ "$tap_failed" -gt 0 ] && [ -f "$T/imagegen.log" ]; then
		echo "# imagegen.log:"; sed 's/^/#   /' "$T/imagegen.log" | tail -40
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

wait_for() {	# wait_for SECONDS COMMAND...: poll until the command succeeds
	limit=$1; shift
	end=$(($(date +%s) + limit))
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

free_port() {
	"$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_mock() {	# start_mock [mock-imagen.py options]
	"$PYTHON3" "$top_srcdir/t/mock-imagen.py" --port-file "$T/mock.port" \
	    --log "$T/mock.log" --key "$API_KEY" "$@" 2>"$T/mock.err" &
	PIDS="$PIDS $!"
	wait_for 10 test -s "$T/mock.port" || bail "the mock image API did not start"
	MOCK_URL=http://127.0.0.1:$(cat "$T/mock.port")
}

start_receiver() {	# start_receiver [webhook-receiver.py options]
	"$PYTHON3" "$top_srcdir/t/webhook-receiver.py" --port-file "$T/hook.port" \
	    --log "$T/hook.log" "$@" 2>"$T/hook.err" &
	HOOK_PID=$!
	PIDS="$PIDS $HOOK_PID"
	wait_for 10 test -s "$T/hook.port" || bail "the webhook receiver did not start"
	HOOK_URL=http://127.0.0.1:$(cat "$T/hook.port")/hook
}

write_config() {	# write_config [extra "key = value" lines...]
	mkdir -p "$T/media"
	{
		echo "database = $T/imagegen.db"
		echo "media_dir = $T/media"
		echo "log = $T/imagegen.log"
		echo "log_level = debug"
		echo "provider = imagen"
		echo "imagen_url = ${MOCK_URL:-http://127.0.0.1:9}"
		echo "webhook_interval = 200"
		for line in "$@"; do echo "$line"; done
	} > "$T/imagegen.conf"
	export IMAGEGEN_CONFIG=$T/imagegen.conf
	"$IMAGEGEN" initdb >/dev/null || bail "imagegen initdb failed"
}

start_imagegen() {	# the FastCGI responder on a unix socket, as spawn-fcgi runs it
	"$SPAWN_FCGI" -n -s "$T/imagegen.sock" -- "$IMAGEGEN" 2>>"$T/imagegen.log" &
	IMAGEGEN_PID=$!
	PIDS="$PIDS $IMAGEGEN_PID"
	wait_for 10 test -S "$T/imagegen.sock" || bail "imagegen did not start"
}

start_fcgiwrap() {	# fcgiwrap runs imagegen as a plain CGI program per request
	"$FCGIWRAP" -s "unix:$T/fcgiwrap.sock" 2>>"$T/imagegen.log" &
	PIDS="$PIDS $!"
	wait_for 10 test -S "$T/fcgiwrap.sock" || bail "fcgiwrap did not start"
}

# The shipped server block, with only its socket, paths and port replaced.
start_nginx() {	# start_nginx [imagegen.conf | imagegen-cgi.conf]
	conf=${1:-imagegen.conf}
	PORT=$(free_port)
	cp /etc/nginx/fastcgi_params "$T/fastcgi_params"
	sed -e "s|listen 80;|listen 127.0.0.1:$PORT;|" \
	    -e "s|unix:/run/imagegen/imagegen.sock|unix:$T/imagegen.sock|" \
	    -e "s|unix:/run/fcgiwrap.socket|unix:$T/fcgiwrap.sock|" \
	    -e "s|/usr/local/bin/imagegen|$IMAGEGEN|" \
	    -e "s|/var/lib/imagegen/media/|$T/media/|" \
	    -e "s|/usr/local/etc/imagegen.conf|$T/imagegen.conf|" \
	    "$top_srcdir/nginx/$conf" > "$T/server.conf"
	cat > "$T/nginx.conf" <<-NGINX
	$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
	daemon off;
	worker_processes 1;
	pid $T/nginx.pid;
	error_log $T/nginx-error.log info;
	events { worker_connections 256; }
	http {
	    access_log $T/nginx-access.log;
	    client_body_temp_path $T/nginx-body;
	    fastcgi_temp_path $T/nginx-fastcgi;
	    proxy_temp_path $T/nginx-proxy;
	    uwsgi_temp_path $T/nginx-uwsgi;
	    scgi_temp_path $T/nginx-scgi;
	    include $T/server.conf;
	}
	NGINX
	"$NGINX" -p "$T" -c "$T/nginx.conf" 2>>"$T/nginx-error.log" &
	PIDS="$PIDS $!"
	BASE=http://127.0.0.1:$PORT
	wait_for 10 curl -s -o /dev/null "$BASE/" || bail "nginx did not start"
}

start_stack() {	# mock, config, imagegen and nginx, with extra config lines
	start_mock ${MOCK_ARGS:-}
	write_config "$@"
	start_imagegen
	start_nginx
}

# http METHOD PATH [curl options...]: sets CODE, leaves the body in $T/body
# and the headers in $T/headers.
http() {
	method=$1 path=$2; shift 2
	rm -f "$T/body" "$T/headers"
	CODE=$(curl -s -m 30 -X "$method" -D "$T/headers" -o "$T/body" \
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
