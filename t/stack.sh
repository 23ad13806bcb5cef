# t/stack.sh: start the real stack on loopback and stop exactly what was
# started: the mock image API, the webhook receiver, nginx from the shipped
# server block, and imagegen as a FastCGI responder (spawn-fcgi) or as CGI
# (fcgiwrap). Sourced by t/lib.sh for the tests and by demo.sh.
# The caller sets T, a private directory; every pid started lands in PIDS.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${NGINX:=$(command -v nginx || echo /usr/sbin/nginx)}"
: "${SPAWN_FCGI:=$(command -v spawn-fcgi || echo /usr/bin/spawn-fcgi)}"
: "${FCGIWRAP:=$(command -v fcgiwrap || echo /usr/sbin/fcgiwrap)}"
: "${PYTHON3:=python3}"
IMAGEGEN=$top_builddir/src/imagegen
PIDS=
# The bearer token that generate, retry and cancel require; a test's own.
API_TOKEN=token-$$-$(date +%s)-for-tests
export API_TOKEN

bail() { echo "error: $*" >&2; exit 1; }

# Workers are detached from whatever started them: their pids are in the store.
stop_stack() {
	if [ -f "$T/imagegen.db" ] || [ -n "${PG_PID:-}" ]; then
		for p in $("$top_srcdir/t/db" "SELECT worker_pid FROM jobs
		    WHERE worker_pid IS NOT NULL AND status = 'generating'" 2>/dev/null); do
			kill "$p" 2>/dev/null
		done
	fi
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$p" 2>/dev/null
	done
	PIDS=
}

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
	    --log "$T/mock.log" --key "$API_KEY" "$@" </dev/null >"$T/mock.err" 2>&1 &
	PIDS="$PIDS $!"
	wait_for 60 test -s "$T/mock.port" || bail "the mock image API did not start"
	MOCK_URL=http://127.0.0.1:$(cat "$T/mock.port")
}

# The webhook receiver's port, chosen once: webhook_allow names it (an
# allowlist entry is an origin, port included), and a receiver started
# again, with other options, takes the same port.
hook_port() {
	[ -n "${HOOK_PORT:-}" ] || HOOK_PORT=$(free_port)
}

# What webhook_allow lets tests post to: the receiver (hook_port first),
# and this stack's nginx (a state host's callback) once it runs.
test_allow() {
	echo "http://127.0.0.1:$HOOK_PORT${BASE:+ $BASE}"
}

start_receiver() {	# start_receiver [webhook-receiver.py options]
	hook_port
	"$PYTHON3" "$top_srcdir/t/webhook-receiver.py" --port-file "$T/hook.port" \
	    --port "$HOOK_PORT" --log "$T/hook.log" "$@" </dev/null >"$T/hook.err" 2>&1 &
	HOOK_PID=$!
	PIDS="$PIDS $HOOK_PID"
	wait_for 60 test -s "$T/hook.port" || bail "the webhook receiver did not start"
	HOOK_URL=http://127.0.0.1:$(cat "$T/hook.port")/hook
}

# The test's database: the file, or (IMAGEGEN_TEST_DATABASE=postgresql)
# the throwaway cluster's URI, the cluster started on first use.
# SQLite's group_concat, which the tests' queries use, for the test's
# PostgreSQL database alone (the product uses none): string_agg's work.
pg_test_shims() {
	"$top_srcdir/t/db" <<-'SQL' || bail "cannot add the tests' group_concat"
	CREATE FUNCTION test_concat(acc text, v anyelement, sep text) RETURNS text
	  LANGUAGE sql IMMUTABLE
	  AS $$ SELECT CASE WHEN v IS NULL THEN acc WHEN acc IS NULL THEN v::text
	        ELSE acc || sep || v::text END $$;
	CREATE FUNCTION test_concat(acc text, v anyelement) RETURNS text
	  LANGUAGE sql IMMUTABLE AS $$ SELECT test_concat(acc, v, ',') $$;
	CREATE AGGREGATE group_concat(anyelement, text) (SFUNC = test_concat, STYPE = text);
	CREATE AGGREGATE group_concat(anyelement) (SFUNC = test_concat, STYPE = text);
	SQL
}

# Sets TEST_DATABASE; t/db finds the cluster by the variables exported.
test_database() {
	if [ "${IMAGEGEN_TEST_DATABASE:-sqlite}" = postgresql ]; then
		if [ -z "${PG_URI:-}" ]; then
			start_pg
			export PG_SOCKDIR PG_PORT PG_BIN
			pg_test_shims
		fi
		# passfile=: libpq's own means, in the URI, so that a config
		# alone reaches the database (env -i, CGI).
		TEST_DATABASE="$PG_URI?passfile=$PGPASSFILE"
	else
		TEST_DATABASE=$T/imagegen.db
	fi
}

write_config() {	# write_config [extra "key = value" lines...]
	mkdir -p "$T/media"
	test_database
	hook_port
	{
		echo "database = $TEST_DATABASE"
		# The suite's checks of media_dir hold on PostgreSQL too; the
		# pictures in the database (its default) have tests of their own.
		[ "${IMAGEGEN_TEST_DATABASE:-sqlite}" = sqlite ] || echo "media_store = files"
		echo "media_dir = $T/media"
		echo "log = $T/imagegen.log"
		echo "log_level = debug"
		echo "provider = gemini"
		# Both providers' routes are on the same mock.
		echo "gemini_url = ${MOCK_URL:-http://127.0.0.1:9}"
		echo "openai_url = ${MOCK_URL:-http://127.0.0.1:9}"
		echo "webhook_interval = 200"
		# The host-wide limits are tested on their own (0150); elsewhere they
		# would only slow the tests down.
		echo "api_tokens = $API_TOKEN"
		# The test receivers listen on loopback: allowed here, by origin.
		echo "webhook_allow = $(test_allow)"
		echo "webhook_private = yes"
		echo "rate_limit = 1000000"
		echo "max_inflight = 64"
		# The reaper's daily model check would add a model list to the
		# mock's log of every test: t/0310 turns it on.
		echo "check_interval = 0"
	} > "$T/imagegen.conf"
	set_config "$@"
	chmod 600 "$T/imagegen.conf"	# it holds the token
	export IMAGEGEN_CONFIG=$T/imagegen.conf
	"$IMAGEGEN" initdb >/dev/null || bail "imagegen initdb failed"
}

# set_config "key = value"...: sets keys in $T/imagegen.conf. A key set
# twice is an error, so a line replaces the key's line, if it has one.
set_config() { set_config_in "$T/imagegen.conf" "$@"; }

set_config_in() {	# set_config_in FILE "key = value"...
	sc_file=$1; shift
	for line in "$@"; do
		key=$(echo "${line%%=*}" | tr -d ' ')
		case $key in ''|\#*) ;; *) sed -i "/^$key *=/d" "$sc_file" ;; esac
		echo "$line" >> "$sc_file"
	done
}

start_imagegen() {	# the FastCGI responder on a unix socket, as spawn-fcgi runs it
	"$SPAWN_FCGI" -n -s "$T/imagegen.sock" -- "$IMAGEGEN" </dev/null >>"$T/imagegen.log" 2>&1 &
	IMAGEGEN_PID=$!
	PIDS="$PIDS $IMAGEGEN_PID"
	wait_for 60 test -S "$T/imagegen.sock" || bail "imagegen did not start"
}

start_fcgiwrap() {	# fcgiwrap runs imagegen as a plain CGI program per request
	"$FCGIWRAP" -s "unix:$T/fcgiwrap.sock" </dev/null >>"$T/imagegen.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_for 60 test -S "$T/fcgiwrap.sock" || bail "fcgiwrap did not start"
}

# The shipped server block (its template in nginx/), with only its socket,
# paths and port replaced; one listen, on loopback.
# imagegen-database.conf is made from imagegen.conf.in as the build makes
# it from imagegen.conf (nginx/database.awk). NGINX_UPSTREAM, when set,
# replaces the upstream's one server (t/hosts.sh: every host's socket),
# and each responder keeps its own config.
start_nginx() {	# start_nginx [imagegen.conf | imagegen-cgi.conf | imagegen-database.conf]
	conf=${1:-imagegen.conf}
	PORT=$(free_port)
	cp /etc/nginx/fastcgi_params "$T/fastcgi_params"
	case $conf in
	imagegen-database.conf)
		awk -f "$top_srcdir/nginx/database.awk" "$top_srcdir/nginx/imagegen.conf.in" ;;
	*)	cat "$top_srcdir/nginx/$conf.in" ;;
	esac |
	sed -e "s|listen 80;|listen 127.0.0.1:$PORT;|" \
	    -e "/listen \[::\]:80;/d" \
	    -e "s|server unix:/run/imagegen/imagegen.sock;|${NGINX_UPSTREAM:-server unix:$T/imagegen.sock;}|" \
	    -e "${NGINX_UPSTREAM:+/fastcgi_param IMAGEGEN_CONFIG/d}" \
	    -e "s|unix:/run/fcgiwrap.socket|unix:$T/fcgiwrap.sock|" \
	    -e "s|@bindir@/imagegen|$IMAGEGEN|" \
	    -e "s|/var/lib/imagegen/media/|$T/media/|" \
	    -e "s|@datadir@/imagegen/www|$top_srcdir/www|" \
	    -e "s|@sysconfdir@/imagegen.conf|$T/imagegen.conf|" \
	    -e "s|/var/cache/nginx/imagegen|$T/nginx-cache|" > "$T/server.conf"
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
	    $( [ -f "$T/extra.conf" ] && echo "include $T/extra.conf;" )
	}
	NGINX
	"$NGINX" -p "$T" -c "$T/nginx.conf" </dev/null >>"$T/nginx-error.log" 2>&1 &
	PIDS="$PIDS $!"
	BASE=http://127.0.0.1:$PORT
	wait_for 60 curl -s -o /dev/null "$BASE/" || bail "nginx did not start"
}

start_stack() {	# mock, config, imagegen and nginx, with extra config lines
	start_mock ${MOCK_ARGS:-}
	write_config "$@"
	start_imagegen
	start_nginx
}

restart_stack() {	# start_stack again, with a fresh mock and an empty mock.log
	stop_stack
	rm -f "$T/mock.port" "$T/imagegen.sock"
	: > "$T/mock.log"
	MOCK_URL=
	start_stack "$@"
}

# N responders sharing one listening socket, as deployed (spawn-fcgi -F N).
# spawn-fcgi forks them and exits: their pids come from its pid file.
start_imagegen_pool() {	# start_imagegen_pool N: sets IMAGEGEN_PIDS
	rm -f "$T/imagegen.sock" "$T/imagegen.pids"
	"$SPAWN_FCGI" -F "$1" -P "$T/imagegen.pids" -s "$T/imagegen.sock" -- "$IMAGEGEN" \
	    </dev/null >>"$T/spawn-fcgi.log" 2>&1 || bail "spawn-fcgi -F $1 failed"
	IMAGEGEN_PIDS=$(cat "$T/imagegen.pids" 2>/dev/null)
	PIDS="$PIDS $IMAGEGEN_PIDS"
	[ "$(echo $IMAGEGEN_PIDS | wc -w)" -eq "$1" ] || bail "spawn-fcgi started $(echo $IMAGEGEN_PIDS | wc -w) of $1 responders"
	wait_for 60 test -S "$T/imagegen.sock" || bail "imagegen did not start"
}

