#!/bin/sh
# imagegen as a plain CGI program (RFC 3875), run straight from this script
# with no web server: meta-variables in the environment, the body on stdin,
# a CGI response (Status and Content-Type header lines, a blank line, the
# body) on stdout. Then the command line without GATEWAY_INTERFACE.
. "$(dirname "$0")/lib.sh"

# No image API answers here; a failed request waits 30 s or more before the
# next, so a job runs far longer than any CGI request, on any machine.
write_config "retry_base = 60000" "retry_cap = 60000"

# cgi METHOD URI [CONTENT_TYPE BODYFILE]: runs one request. Leaves the raw
# output in $T/out, the header lines in $T/headers (for header()), the body
# in $T/body (for json()/jcheck) and the exit status in CGI_RC. CGI_LENGTH,
# when set, replaces the true CONTENT_LENGTH.
CGI_LENGTH=
cgi() {
	_m=$1 _u=$2 _ct=${3:-} _f=${4:-} _q=
	case $_u in *\?*) _q=${_u#*\?} ;; esac
	set -- GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=localhost \
	    SERVER_PORT=80 REMOTE_ADDR=127.0.0.1 SCRIPT_NAME= \
	    REQUEST_METHOD="$_m" REQUEST_URI="$_u" QUERY_STRING="$_q" \
	    HTTP_AUTHORIZATION="Bearer $API_TOKEN"
	[ -n "$_ct" ] && set -- "$@" CONTENT_TYPE="$_ct"
	[ -n "$_f" ] && set -- "$@" CONTENT_LENGTH="${CGI_LENGTH:-$(wc -c < "$_f")}"
	env "$@" "$IMAGEGEN" < "${_f:-/dev/null}" > "$T/out" 2> "$T/err"
	CGI_RC=$?
	split_cgi
}

split_cgi() {	# the header block ends at the first empty line (CRLF CRLF)
	sed -n '1,/^\r\{0,1\}$/p' "$T/out" | tr -d '\r' | sed '/^$/d' > "$T/headers"
	sed '1,/^\r\{0,1\}$/d' "$T/out" > "$T/body"
}

body_size() { wc -c < "$T/body" | tr -d ' '; }

crlf_headers() {	# every header line of the raw output ends in CR LF
	sed -n '1,/^\r\{0,1\}$/p' "$T/out" | grep -qv "$(printf '\r')\$" && return 1
	return 0
}

# --- an unknown path -------------------------------------------------------
cgi GET /api/nope
is "$CGI_RC" 0 "an unknown path: the CGI program exits 0"
is "$(head -1 "$T/out" | tr -d '\r')" "Status: 404 Not Found" "an unknown path: the first line is Status: 404 Not Found"
is "$(header Content-Type)" application/json "an unknown path: Content-Type: application/json"
check "the header lines end in CR LF" crlf_headers
is "$(header Content-Length)" "$(body_size)" "Content-Length is the size of the body"
jcheck "an unknown path: the body is a JSON error" '.error | type == "string"'
check "nothing on stderr for a plain 404" test ! -s "$T/err"

# --- the generate route with the wrong method -----------------------------
cgi GET /api/generate-case-images
is "$(header Status)" "405 Method Not Allowed" "GET /api/generate-case-images: 405"
is "$(header Allow)" POST "GET /api/generate-case-images: Allow: POST"
is "$(header Content-Type)" application/json "405: Content-Type: application/json"
jcheck "405: a JSON error body" '.error == "Method not allowed"'

cgi DELETE /api/case-images/x
is "$(header Status)" "405 Method Not Allowed" "DELETE on a status path: 405"
is "$(header Allow)" "GET, HEAD" "DELETE on a status path: Allow: GET, HEAD"

# --- the status route --------------------------------------------------------
cgi GET /api/case-images/nope
is "$(header Status)" "404 Not Found" "GET /api/case-images/nope: 404"
jcheck "the unknown job's body says so" '.error == "Job not found"'

# RFC 3875 names the resource with SCRIPT_NAME and PATH_INFO; REQUEST_URI is
# an extension. Without it, the path is SCRIPT_NAME + PATH_INFO.
env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME=/api \
    PATH_INFO=/case-images/nope "$IMAGEGEN" < /dev/null > "$T/out" 2> "$T/err"
split_cgi
is "$(header Status)" "404 Not Found" "SCRIPT_NAME + PATH_INFO route to the status handler"
jcheck "SCRIPT_NAME + PATH_INFO: the status handler's 404" '.error == "Job not found"'

# --- generate: the body on stdin --------------------------------------------
printf 'hello' > "$T/plain.txt"
cgi POST /api/generate-case-images text/plain "$T/plain.txt"
is "$(header Status)" "415 Unsupported Media Type" "a text/plain body: 415"
jcheck "415: a JSON error body" '.error | type == "string"'

printf '{"caseId":' > "$T/broken.json"
cgi POST /api/generate-case-images application/json "$T/broken.json"
is "$(header Status)" "400 Bad Request" "invalid JSON on stdin: 400"
jcheck "400: a JSON error body" '.error == "the body is not valid JSON"'

make_case cgi-1 10 4
CGI_LENGTH=$(( $(wc -c < "$T/cgi-1.json") + 10 ))
cgi POST /api/generate-case-images application/json "$T/cgi-1.json"
CGI_LENGTH=
is "$(header Status)" "400 Bad Request" "a body shorter than CONTENT_LENGTH: 400"
jcheck "a short body: the error says so" '.error | test("shorter")'

# A CONTENT_LENGTH that is not a number is a bad request, not a large one.
CGI_LENGTH=abc
cgi POST /api/generate-case-images application/json "$T/cgi-1.json"
CGI_LENGTH=
is "$(header Status)" "400 Bad Request" "CONTENT_LENGTH=abc: 400"
jcheck "CONTENT_LENGTH=abc: a JSON error body" '.error | type == "string"'

# No CONTENT_LENGTH at all with a body: 411.
env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST REQUEST_URI=/api/generate-case-images \
    CONTENT_TYPE=application/json HTTP_AUTHORIZATION="Bearer $API_TOKEN" \
    "$IMAGEGEN" < "$T/cgi-1.json" > "$T/out" 2> "$T/err"
split_cgi
is "$(header Status)" "411 Length Required" "a POST without CONTENT_LENGTH: 411"
is "$(db 'SELECT count(*) FROM jobs')" 0 "no job from any rejected request"

t0=$(date +%s%N)
cgi POST /api/generate-case-images "application/json; charset=utf-8" "$T/cgi-1.json"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
is "$(header Status)" "202 Accepted" "a valid case: Status: 202 Accepted"
is "$CGI_RC" 0 "a valid case: the CGI program exits 0"
st=$(db "SELECT status FROM jobs WHERE case_id = 'cgi-1'")
check "the CGI program returned ($ms ms) while its job still runs ($st): the worker detached" \
    test "$st" = pending -o "$st" = generating
is "$(header Location)" /api/case-images/cgi-1 "202: Location names the status URL"
jcheck "202: the body is the accepted job" \
    '.caseId == "cgi-1" and .status == "pending" and .totalImages == 14 and .statusUrl == "/api/case-images/cgi-1"'
q() { db "$1"; }
is "$(q "SELECT count(*) FROM jobs WHERE case_id = 'cgi-1'")" 1 "the job is in the database"
is "$(q "SELECT total_images FROM jobs WHERE case_id = 'cgi-1'")" 14 "the job counts 14 images"
is "$(q "SELECT count(*) FROM images WHERE case_id = 'cgi-1'")" 14 "14 image rows"
is "$(q "SELECT count(*) FROM images WHERE case_id = 'cgi-1' AND kind = 'evidence'")" 10 \
    "10 of them evidence"
has_worker() { [ -n "$(q "SELECT worker_pid FROM jobs WHERE case_id = 'cgi-1'")" ]; }
check "the detached worker claimed the job" wait_for 10 has_worker

# --- GET and HEAD of the job ------------------------------------------------
cgi GET "/api/case-images/cgi-1?since=0"
is "$(header Status)" "200 OK" "GET the job (a query string is ignored): 200"
jcheck "the job's status JSON" '.caseId == "cgi-1" and .totalImages == 14 and (.images | length) == 14'
get_len=$(header Content-Length)
get_etag=$(header ETag)

cgi HEAD /api/case-images/cgi-1
is "$(header Status)" "200 OK" "HEAD the job: 200"
is "$(header Content-Type)" application/json "HEAD: Content-Type: application/json"
check "HEAD: a Content-Length ($(header Content-Length))" test "$(header Content-Length)" -gt 0
check "HEAD: an ETag ($(header ETag))" test -n "$(header ETag)"
is "$(body_size)" 0 "HEAD: no body"
diag "GET: Content-Length $get_len, ETag $get_etag"

cgi HEAD /api/case-images/nope
is "$(header Status)" "404 Not Found" "HEAD an unknown job: 404"
is "$(body_size)" 0 "HEAD an unknown job: no body"

# --- a bad configuration: a 500 in JSON, not a crash ------------------------
printf 'database = %s/imagegen.db\nbogus_key = 1\n' "$T" > "$T/bad.conf"
GOOD_CONFIG=$IMAGEGEN_CONFIG
IMAGEGEN_CONFIG=$T/bad.conf
cgi GET /api/case-images/cgi-1
check "a bad config: the CGI program exits without a crash (rc $CGI_RC)" \
    test "$CGI_RC" -gt 0 -a "$CGI_RC" -lt 128
is "$(header Status)" "500 Internal Server Error" "a bad config: Status: 500"
is "$(header Content-Type)" application/json "a bad config: Content-Type: application/json"
jcheck "a bad config: a JSON error body" '.error | type == "string"'
check "a bad config: the reason is logged on stderr" grep -q bogus_key "$T/err"

IMAGEGEN_CONFIG=$T/missing.conf
cgi GET /api/case-images/cgi-1
is "$(header Status)" "500 Internal Server Error" "a missing config file: Status: 500"
jcheck "a missing config file: a JSON error body" '.error | type == "string"'

# A database the schema cannot be applied to (a stray "jobs" table at
# user_version 0): the migration fails, and the web server must still get
# a CGI response, not an empty stdout (which it turns into a 502).
sqlite3 "$T/stray.db" 'CREATE TABLE jobs (x)'
printf 'database = %s/stray.db\nmedia_dir = %s/media\nlog = %s/stray.log\n' \
    "$T" "$T" "$T" > "$T/stray.conf"
IMAGEGEN_CONFIG=$T/stray.conf
cgi GET /api/case-images/cgi-1
check "a failing migration: no crash (rc $CGI_RC)" test "$CGI_RC" -lt 128
is "$(header Status)" "500 Internal Server Error" "a failing migration: Status: 500"
jcheck "a failing migration: a JSON error body" '.error | type == "string"'
check "a failing migration: the log gives SQLite's reason, not just the SQL" \
    grep -q 'already exists' "$T/stray.log"

IMAGEGEN_CONFIG=$GOOD_CONFIG

# GATEWAY_INTERFACE without REQUEST_METHOD: a broken gateway, answered with a 500.
env GATEWAY_INTERFACE=CGI/1.1 REQUEST_URI=/api/case-images/cgi-1 "$IMAGEGEN" \
    < /dev/null > "$T/out" 2> "$T/err"
CGI_RC=$?
split_cgi
check "no REQUEST_METHOD: no crash (rc $CGI_RC)" test "$CGI_RC" -lt 128
is "$(header Status)" "500 Internal Server Error" "no REQUEST_METHOD: Status: 500"
jcheck "no REQUEST_METHOD: a JSON error body" '.error | type == "string"'

# --- the command line --------------------------------------------------------
env -u GATEWAY_INTERFACE "$IMAGEGEN" < /dev/null > "$T/out" 2> "$T/err"
is "$?" 2 "no GATEWAY_INTERFACE, no command, stdin not a socket: exit 2"
check "... and a usage message on stderr" grep -q '^usage: imagegen' "$T/err"
check "... and nothing on stdout" test ! -s "$T/out"

"$IMAGEGEN" version > "$T/out" 2> "$T/err"
is "$?" 0 "imagegen version exits 0"
check "imagegen version prints a version ($(cat "$T/out"))" \
    grep -Eq '^imagegen [0-9]+\.[0-9]+' "$T/out"

"$IMAGEGEN" show nosuch > "$T/out" 2> "$T/err"
is "$?" 1 "imagegen show nosuch exits 1"
check "imagegen show nosuch says no such job" grep -q 'no such job' "$T/err"

"$IMAGEGEN" show cgi-1 > "$T/out" 2> "$T/err"
is "$?" 0 "imagegen show cgi-1 exits 0"
check "imagegen show cgi-1 describes the job" grep -q '^case: *cgi-1' "$T/out"

"$IMAGEGEN" bogus > "$T/out" 2> "$T/err"
is "$?" 2 "imagegen bogus exits 2"
check "imagegen bogus says the command is unknown" grep -q 'unknown command' "$T/err"

"$IMAGEGEN" show > "$T/out" 2> "$T/err"
is "$?" 2 "imagegen show without a case id exits 2"

"$IMAGEGEN" -x > "$T/out" 2> "$T/err"
is "$?" 2 "an unknown option exits 2"

done_testing
