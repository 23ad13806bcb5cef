#!/bin/sh
# The operator's tool: help and version need neither a config nor a
# database; `imagegen config` refuses exactly what the server refuses at
# start-up; a key set twice names both lines; a database never set up
# says to run initdb (and is not created); errors reach the terminal even
# when the log goes to a file; a missing config is said once.
. "$(dirname "$0")/lib.sh"

cd "$T"
unset IMAGEGEN_CONFIG
for a in help --help -h; do
	out=$(IMAGEGEN_CONFIG=$T/none.conf "$IMAGEGEN" $a 2>"$T/err"); rc=$?
	is "$rc/$(cat "$T/err")" "0/" "imagegen $a: exit 0 without a config, nothing on stderr"
	check "... and the usage on stdout" sh -c "echo '$out' | grep -q '^usage: imagegen'"
done
for a in version --version -V; do
	out=$(IMAGEGEN_CONFIG=$T/none.conf "$IMAGEGEN" $a 2>&1); rc=$?
	is "$rc/$out" "0/imagegen $(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")" \
	    "imagegen $a prints the version, without a config"
done
check "... and no database was made" test ! -e "$T/imagegen.db"

# Each bad config: imagegen config exits 1 with the reason, and the server
# (here as CGI, where a failed start is a 500) refuses it too.
good() {
	printf 'database = %s/imagegen.db\nmedia_dir = %s/media\nlog = stderr\n' "$T" "$T"
}
cgi_start() {	# cgi_start CONF: the CGI program's first line for GET /x
	GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI=/x SCRIPT_NAME=/x \
	    "$IMAGEGEN" -c "$1" </dev/null 2>/dev/null | head -1 | tr -d '\r'
}
bad() {	# bad NAME EXPECTED-ERROR-PATTERN LINES...
	name=$1 want=$2; shift 2
	good > "$T/$name.conf"
	for l in "$@"; do
		sed -i "/^${l%% *} =/d" "$T/$name.conf"
		echo "$l" >> "$T/$name.conf"
	done
	chmod 600 "$T/$name.conf"
	err=$("$IMAGEGEN" -c "$T/$name.conf" config 2>&1 >/dev/null); rc=$?
	is "$rc" 1 "imagegen config refuses $name"
	check "... saying why ($err)" sh -c "echo \"\$1\" | grep -q \"\$2\"" - "$err" "$want"
	is "$(cgi_start "$T/$name.conf")" "Status: 500 Internal Server Error" \
	    "... and so does the server, as it starts"
}
bad short-token "a token is shorter than 16 characters" "api_tokens = short"
bad tokens-file "api_tokens_file $T/missing: No such file" "api_tokens_file = $T/missing"
bad db-dir "database $T/nodir/imagegen.db: its directory $T/nodir: No such file" \
    "database = $T/nodir/imagegen.db"
bad url "gemini_url: not an http or https URL" "gemini_url = ftp://example.com"
bad provider 'provider: unknown "dall-e": use gemini, openai or local' "provider = dall-e"
bad imagen "Imagen was shut down by Google on 2026-08-17.*delete line 4 (provider)" "provider = imagen"

{ good; echo "api_tokens = 0123456789abcdef-token"; echo "provider = local"; } > "$T/ok.conf"
chmod 600 "$T/ok.conf"
"$IMAGEGEN" -c "$T/ok.conf" initdb >/dev/null
out=$("$IMAGEGEN" -c "$T/ok.conf" config 2>"$T/err"); rc=$?
is "$rc/$(cat "$T/err")" "0/" "a good config: imagegen config exits 0, no warning"
is "$(cgi_start "$T/ok.conf")" "Status: 404 Not Found" "... and the server starts with it"
good > "$T/warn.conf"
env -u GEMINI_API_KEY "$IMAGEGEN" -c "$T/warn.conf" config >/dev/null 2>"$T/err"; rc=$?
is "$rc" 0 "no token and no API key: it starts, so exit 0"
is "$(grep -c '^imagegen: warning: ' "$T/err")" 2 "... with a warning for each"

# A key set twice: an error, naming both lines.
{ good; echo "threads = 2"; echo "# later"; echo "threads = 8"; } > "$T/dup.conf"
err=$("$IMAGEGEN" -c "$T/dup.conf" config 2>&1); rc=$?
is "$rc/$err" "1/imagegen: $T/dup.conf:6: threads: set twice, on lines 4 and 6: keep one" \
    "a key set twice is an error, with both line numbers"

# A missing config: one line.
err=$("$IMAGEGEN" -c "$T/none.conf" jobs 2>&1); rc=$?
is "$rc/$err" "1/imagegen: $T/none.conf: No such file or directory" "a missing config is said once"

# A database never set up.
printf 'database = %s/fresh.db\nlog = stderr\n' "$T" > "$T/fresh.conf"
for cmd in jobs reap "show case-1" "run case-1"; do
	err=$("$IMAGEGEN" -c "$T/fresh.conf" $cmd 2>&1); rc=$?
	is "$rc/$err" "1/imagegen: $T/fresh.db: No such file or directory: run imagegen initdb" \
	    "imagegen $cmd without a database says to run initdb"
done
check "... and makes none" test ! -e "$T/fresh.db"
: > "$T/fresh.db"
err=$("$IMAGEGEN" -c "$T/fresh.conf" jobs 2>&1); rc=$?
is "$rc/${err#* error: }" "1/store: $T/fresh.db: no schema: run imagegen initdb" \
    "an empty database: no schema, run imagegen initdb"
"$IMAGEGEN" -c "$T/fresh.conf" initdb >/dev/null 2>&1
err=$("$IMAGEGEN" -c "$T/fresh.conf" jobs 2>&1); rc=$?
is "$rc" 0 "... and after initdb, jobs works"

# initdb on a new path, as every fresh install runs it: it makes the
# database and says so, with no warning that one was lost.
printf 'database = %s/new.db\nlog = stderr\nlog_level = debug\n' "$T" > "$T/new.conf"
"$IMAGEGEN" -c "$T/new.conf" initdb > "$T/out" 2> "$T/err"; rc=$?
is "$rc/$(cat "$T/out")" "0/$T/new.db: schema version $(ls "$top_srcdir"/sql/[0-9]*.sql | wc -l)" \
    "initdb on a new path makes the database"
is "$(grep -c 'warn\|error\|backup' "$T/err")" 0 "... and warns of nothing (no \"restore it from a backup\")"
sed 's/^/# /' "$T/err" | grep -i 'warn\|error\|backup'

# log = FILE: the error is in the file and on the terminal.
printf 'database = %s/fresh.db\nlog = %s/cli.log\n' "$T" "$T" > "$T/file.conf"
err=$("$IMAGEGEN" -c "$T/file.conf" run no-such-case 2>&1); rc=$?
is "$rc/$err" "1/imagegen: case no-such-case: no such job" \
    "with log = FILE, imagegen run says its error on stderr"
check "... and in the log file" grep -q "error: case no-such-case: no such job" "$T/cli.log"

done_testing
