# t/lib.sh: shared by every t/*.t script: TAP output, a private directory,
# HTTP and JSON helpers, and the real stack from t/stack.sh, stopped by pid
# when the script exits.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$top_srcdir/t/stack.sh"
API_KEY=test-key-$$-secret
export GEMINI_API_KEY=$API_KEY
export OPENAI_API_KEY=$API_KEY

T=$(mktemp -d "${TMPDIR:-/tmp}/imagegen-t.XXXXXX")
export T
# The engine the suite runs on: sqlite (the default), or postgresql, a
# throwaway cluster per test (t/pg.sh) that write_config starts.
: "${IMAGEGEN_TEST_DATABASE:=sqlite}"
case $IMAGEGEN_TEST_DATABASE in
sqlite|postgresql) export IMAGEGEN_TEST_DATABASE ;;
*) echo "Bail out! IMAGEGEN_TEST_DATABASE=$IMAGEGEN_TEST_DATABASE: sqlite or postgresql"; exit 1 ;;
esac
. "$top_srcdir/t/pg.sh"
on_pg() { [ "$IMAGEGEN_TEST_DATABASE" = postgresql ]; }
# db [SQL]: a query on the test's database, either engine (t/db).
db() { "$top_srcdir/t/db" "$@"; }
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
	# The PostgreSQL cluster of a test that sourced t/pg.sh, after the
	# processes that used it.
	stop_standby
	[ -z "${PG_DATA:-}" ] || stop_pg
	if [ "$tap_failed" -gt 0 ] && [ -f "$T/imagegen.log" ]; then
		echo "# imagegen.log:"; sed 's/^/#   /' "$T/imagegen.log" | tail -40
	fi
	[ -n "${IMAGEGEN_TEST_KEEP:-}" ] && echo "# kept: $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# hold_write_lock: another connection holds the database's write lock, as
# an operator's open transaction would (SQLite: BEGIN IMMEDIATE; PostgreSQL:
# the tables locked EXCLUSIVE, which lets reads through), until $T/lock.go
# appears, 60 s at most. Returns once it is held; LOCK_PID is its process.
hold_write_lock() {
	rm -f "$T/lock.held" "$T/lock.go"
	if on_pg; then
		db <<-SQL >/dev/null &
		BEGIN;
		LOCK TABLE jobs, images, webhook_deliveries IN EXCLUSIVE MODE;
		\! touch '$T/lock.held'; i=0; while [ ! -f '$T/lock.go' ] && [ \$i -lt 3000 ]; do sleep 0.02; i=\$((i + 1)); done
		COMMIT;
		SQL
	else
		"$PYTHON3" - "$T/imagegen.db" "$T/lock.held" "$T/lock.go" <<-'PY' &
		import os, sqlite3, sys, time
		db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
		db.execute("BEGIN IMMEDIATE")
		open(sys.argv[2], "w").close()
		end = time.time() + 60
		while not os.path.exists(sys.argv[3]) and time.time() < end:
		    time.sleep(0.02)
		db.execute("COMMIT")
		PY
	fi
	LOCK_PID=$!
	wait_for 60 test -f "$T/lock.held" || bail "could not take the write lock"
}

# pg_test: a test about PostgreSQL itself runs on it in every suite but
# PostgreSQL's own (IMAGEGEN_TEST_DATABASE=postgresql), where it would
# only run a second time.
pg_test() {
	if on_pg; then
		echo "1..0 # SKIP the other suites run it, on PostgreSQL"
		exit 0
	fi
	IMAGEGEN_TEST_DATABASE=postgresql
	export IMAGEGEN_TEST_DATABASE
}

# sqlite_only REASON: a test about SQLite itself skips on PostgreSQL.
sqlite_only() {
	on_pg || return 0
	echo "1..0 # SKIP on PostgreSQL: $*"
	exit 0
}

# http METHOD PATH [curl options...]: sets CODE, leaves the body in $T/body
# and the headers in $T/headers.
http() {
	method=$1 path=$2; shift 2
	rm -f "$T/body" "$T/headers"
	# curl -X HEAD would wait for the body Content-Length announces; --head does not.
	if [ "$method" = HEAD ]; then set -- --head "$@"; else set -- -X "$method" "$@"; fi
	# Every request carries the token, unless NO_AUTH=1 says not to.
	[ "${NO_AUTH:-0}" = 1 ] || set -- -H "Authorization: Bearer $API_TOKEN" "$@"
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
	db "SELECT status FROM jobs WHERE case_id = '$1'"
}

is_final() {
	case $(job_status "$1") in completed|partial|failed) return 0 ;; esac
	return 1
}

wait_final() {	# wait_final CASEID SECONDS
	wait_for "$2" is_final "$1"
}

# run_case ID NEVIDENCE NLOCATIONS [webhookUrl] [fault-spec...]: make_case,
# submit it, wait (60 s at most) for its end, which is a check, and leave
# its status in $T/body.
run_case() {
	rc_id=$1
	make_case "$@"
	post_json /api/generate-case-images "$T/$rc_id.json"
	check "$rc_id finishes" wait_final "$rc_id" 60
	http GET "/api/case-images/$rc_id"
}

# The status of the last body and the models that made its images:
# "completed gemini-nano-banana-2.1".
status_models() { json '.status + " " + ([.images[].model] | unique | join(","))'; }

exited() {	# exited PID: the process is gone, or a zombie waiting for its parent
	[ ! -e "/proc/$1" ] || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]
}
alive() { ! exited "$1"; }

# own_workers: the pids of this test's workers (their IMAGEGEN_CONFIG is
# under $T), not those of a test running beside it.
own_workers() {
	for p in $(pgrep -x imagegen); do
		tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q '^imagegen worker ' &&
		    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -q "^IMAGEGEN_CONFIG=$T/" &&
		    echo "$p"
	done
}

# wait_exit PID SECONDS: the exit status of a child of this shell; 124 when
# it was still running after SECONDS (it is then killed).
wait_exit() {
	if ! wait_for "$2" exited "$1"; then
		kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null
		return 124
	fi
	wait "$1"
}

skip() {	# skip COUNT REASON: COUNT assertions that cannot run here
	i=0
	while [ "$i" -lt "$1" ]; do
		tap_n=$((tap_n + 1)); i=$((i + 1))
		echo "ok $tap_n # SKIP $2"
	done
}

# counters_match CASEID: the job's completed/failed counters are its rows'.
counters_match() {
	[ "$(db "SELECT completed_images || '/' || failed_images
	    FROM jobs WHERE case_id = '$1'")" = "$(db "SELECT
	    count(*) FILTER (WHERE status = 'completed') || '/' ||
	    count(*) FILTER (WHERE status = 'failed') FROM images WHERE case_id = '$1'")" ]
}

# before_cleanup COMMAND: run COMMAND at exit once the stack is stopped and
# before cleanup() removes $T (to unmount what a test mounted under it).
before_cleanup() {
	trap "stop_stack; $1; cleanup" EXIT
}

# fcgi_request SOCKET PATH [BODY-FILE [PAUSE-AT]]: one FastCGI request
# straight to the responder's socket, as a web server that does not buffer
# the body would send it. PAUSE-AT is "params" or "body": the client sends
# half of that, creates $T/fcgi.paused, and waits (60 s at most) for
# $T/fcgi.go before it sends the rest. The reply's CGI headers and body go
# to $T/fcgi.out; FCGI_STATUS (and $T/fcgi.status, for a request run in
# the background) is "appStatus/protocolStatus" of FCGI_END_REQUEST, or
# "none" when the responder closed the connection without one.
fcgi_request() {
	rm -f "$T/fcgi.out" "$T/fcgi.status" "$T/fcgi.paused" "$T/fcgi.go"
	"$PYTHON3" - "$1" "$2" "${3:-}" "${4:-}" "$T" "${IMAGEGEN_CONFIG:-}" <<-'PY'
	import os, socket, struct, sys, time
	sock_path, path, body_file, pause_at, tdir, conf = sys.argv[1:7]
	body = open(body_file, "rb").read() if body_file else b""
	def record(kind, data=b""):      # one record, or several of at most 32 KiB
	    if len(data) > 32768:
	        return b"".join(record(kind, data[i:i + 32768]) for i in range(0, len(data), 32768))
	    pad = -len(data) % 8
	    return struct.pack(">BBHHBB", 1, kind, 1, len(data), pad, 0) + data + b"\0" * pad
	def pair(k, v):
	    k, v = k.encode(), v.encode()
	    n = lambda x: bytes([len(x)]) if len(x) < 128 else struct.pack(">I", len(x) | 1 << 31)
	    return n(k) + n(v) + k + v
	params = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
	          "REQUEST_METHOD": "POST" if body_file else "GET",
	          "REQUEST_URI": path, "DOCUMENT_URI": path, "SCRIPT_NAME": path,
	          "QUERY_STRING": "", "IMAGEGEN_CONFIG": conf,
	          "HTTP_AUTHORIZATION": "Bearer " + os.environ.get("API_TOKEN", "")}
	if body_file:
	    params["CONTENT_TYPE"] = "application/json"
	    params["CONTENT_LENGTH"] = str(len(body))
	pdata = b"".join(pair(k, v) for k, v in params.items())
	def pause():
	    open(os.path.join(tdir, "fcgi.paused"), "w").close()
	    end = time.time() + 60
	    while not os.path.exists(os.path.join(tdir, "fcgi.go")) and time.time() < end:
	        time.sleep(0.02)
	buf, out, status = b"", b"", "none"
	try:
	    s = socket.socket(socket.AF_UNIX)
	    s.settimeout(30)
	    s.connect(sock_path)
	    s.sendall(record(1, struct.pack(">HB5x", 1, 0)))    # BEGIN_REQUEST, responder
	    half = len(pdata) // 2 if pause_at == "params" else len(pdata)
	    s.sendall(record(4, pdata[:half]))
	    if pause_at == "params":
	        pause()
	        s.sendall(record(4, pdata[half:]))
	    s.sendall(record(4))
	    half = len(body) // 2 if pause_at == "body" else len(body)
	    if half:
	        s.sendall(record(5, body[:half]))
	    if pause_at == "body":
	        pause()
	        s.sendall(record(5, body[half:]))
	    s.sendall(record(5))
	    while True:
	        chunk = s.recv(65536)
	        if not chunk:
	            break
	        buf += chunk
	        while len(buf) >= 8:
	            _, kind, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
	            if len(buf) < 8 + clen + plen:
	                break
	            data, buf = buf[8:8 + clen], buf[8 + clen + plen:]
	            if kind == 6:
	                out += data
	            elif kind == 3:
	                app, proto = struct.unpack(">IB3x", data)
	                status = "%d/%d" % (app, proto)
	except (OSError, socket.timeout):
	    pass
	open(os.path.join(tdir, "fcgi.out"), "wb").write(out)
	open(os.path.join(tdir, "fcgi.status"), "w").write(status + "\n")
	PY
	FCGI_STATUS=$(cat "$T/fcgi.status" 2>/dev/null || echo none)
}

# fcgi_request_bg ARGS...: fcgi_request in the background, its pid in
# FCGI_PID; the last request's files are gone before it starts, so that
# waiting for $T/fcgi.paused cannot see a stale one.
fcgi_request_bg() {
	rm -f "$T/fcgi.out" "$T/fcgi.status" "$T/fcgi.paused" "$T/fcgi.go"
	fcgi_request "$@" &
	FCGI_PID=$!
}

# own_network: runs this test again in network and mount namespaces of its
# own (unshare, as root), with only loopback, brought up: a URL wrongly
# accepted can reach nothing off this machine, and the test may bind
# addresses of its own and mount its own /etc/hosts. Call it first.
own_network() {
	if [ -z "${IMAGEGEN_OWN_NETWORK:-}" ]; then
		rm -rf "$T"
		trap - EXIT
		if ! unshare -n -m true 2>/dev/null; then
			echo "1..0 # SKIP needs network namespaces (unshare -n -m, as root)"
			exit 0
		fi
		exec unshare -n -m env IMAGEGEN_OWN_NETWORK=1 sh "$0" "$@"
	fi
	ip link set lo up || bail "cannot bring loopback up in the test's own network"
}

# Progress updates are refused unless signed (webhook_verify = on, the
# default). HOOK_SECRET is a test's own; give it to the responder with
# "webhook_verify_secrets = $HOOK_SECRET".
HOOK_SECRET=whsec_$(head -c 32 /dev/urandom | base64 -w0)

sign_body() {	# sign_body SECRET ID TIMESTAMP FILE: the v1 signature of FILE
	"$PYTHON3" - "$1" "$2" "$3" "$4" <<-'PY'
	import base64, hashlib, hmac, sys
	key = base64.b64decode(sys.argv[1][len("whsec_"):])
	msg = ("%s.%s." % (sys.argv[2], sys.argv[3])).encode() + open(sys.argv[4], "rb").read()
	print(base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode())
	PY
}

# post_progress FILE [curl options...]: FILE to the progress route, signed
# with HOOK_SECRET under a fresh webhook-id.
post_progress() {
	pf=$1; shift
	pid_=msg-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n') pts=$(date +%s)
	post_json /api/webhook/image-progress "$pf" -H "webhook-id: $pid_" \
	    -H "webhook-timestamp: $pts" \
	    -H "webhook-signature: v1,$(sign_body "$HOOK_SECRET" "$pid_" "$pts" "$pf")" "$@"
}

# kill_worker CASEID: kills the job's worker and waits until it is gone.
# The read waits for SQLite's lock: an empty pid would leave it running.
kill_worker() {
	kw=$(db \
	    "SELECT worker_pid FROM jobs WHERE case_id = '$1'")
	[ -n "$kw" ] && kill -9 "$kw" || bail "cannot kill the worker of $1 (pid '$kw')"
	wait_for 10 exited "$kw" || bail "the worker of $1 (pid $kw) did not die"
}

# job_ms CASEID: how long the job took from its creation to its end, in ms,
# on the server's clock (the store's own time stamps): a bound on it does
# not count this script's polling or a loaded machine's process start-ups.
job_ms() {
	db \
	    "SELECT completed_at - created_at FROM jobs WHERE case_id = '$1'"
}

# build_deb: the Debian package of these sources, built from a copy in
# $T/src (dpkg-buildpackage writes beside the tree it builds). Sets deb
# (empty when none was made), DEB_RC and DEB_SECS; the log is $T/build.log.
build_deb() {
	mkdir -p "$T/src/imagegen"
	# A checkout's own files; or, from a tarball (make distcheck unpacks it
	# inside the checkout's build/, read-only), all but the builds in it.
	if [ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2>/dev/null)" = \
	    "$(cd "$top_srcdir" && pwd -P)" ]; then
		(cd "$top_srcdir" && git ls-files -co --exclude-standard | tar -cf - -T -) |
		    tar -C "$T/src/imagegen" -xf -
	else
		tar -C "$top_srcdir" --exclude=./build --exclude=./build-san --exclude=./_build \
		    --exclude=./_inst -cf - . | tar -C "$T/src/imagegen" -xf -
		chmod -R u+w "$T/src/imagegen"
	fi
	bd_t0=$(date +%s)
	# Not make check's jobserver: the package's build is a make of its own.
	(cd "$T/src/imagegen" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    DEB_BUILD_OPTIONS="parallel=2 nocheck" dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1
	DEB_RC=$?
	DEB_SECS=$(($(date +%s) - bd_t0))
	deb=$(ls "$T"/src/imagegen_*_*.deb 2>/dev/null | head -1)
}

# readme_block LINE: the README's indented block that holds LINE, as the
# lines an operator types, word for word.
readme_block() {
	awk -v want="$1" '
	    /^    / { blk = blk substr($0, 5) "\n"; if (substr($0, 5) == want) hit = 1; next }
	    hit { exit }
	    { blk = "" }
	    END { if (hit) printf "%s", blk }' "$top_srcdir/README"
}
