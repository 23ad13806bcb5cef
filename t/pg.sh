# t/pg.sh: a throwaway PostgreSQL cluster for a test, in $T/pg, on a free
# loopback port and a socket directory of its own, stopped by t/lib.sh's
# cleanup (by its postmaster's pid if pg_ctl cannot). Sourced after t/lib.sh
# by the tests that need it:
#
#   start_pg            initdb (or a copy of the cached template), start,
#                       a role and a database "imagegen"; exports PG_URI
#                       (no password in it) and PGPASSFILE (a 0600 .pgpass)
#   pg_sql [psql args]  psql as imagegen over the socket (trust), quiet,
#                       stopping at the first error: pg_sql -c 'SELECT 1'
#   pg_stop, pg_start   stop (fast) and start again: same data, same port
#   pg_restart          pg_ctl restart -m fast
#   stop_pg             stop it for good (cleanup does it)
#
# Over TCP the server asks for the password (scram-sha-256), which the
# product must take from libpq's own means: PGPASSFILE here. The socket
# trusts its users, for the test's own psql.
#
# As root, the cluster runs as Debian's postgres user (initdb refuses
# root): $T becomes traversable (o+x) and $T/pg is postgres's. An initdb'd
# template, with the role and the database in it, is kept in
# ${TMPDIR:-/tmp}/imagegen-pg-cache.UID/ and copied per test (made under
# flock; made anew when PostgreSQL or the recipe changes): it saves each
# test initdb and CREATE DATABASE, about 0.7 s of 1.6 on 2 busy cores.
# IMAGEGEN_PG_TEMPLATE=no runs initdb every time.

# The environment must not point the tests' clients elsewhere.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE \
    PGSERVICEFILE PGOPTIONS PGSSLMODE PGTARGETSESSIONATTRS PGCONNECT_TIMEOUT

PG_DIR=$T/pg
PG_DATA=$PG_DIR/data
PG_SOCKDIR=$PG_DIR/run
PG_PID=
PG_PORT=
PG_OS_USER=postgres

# The server's programs: PG_BINDIR, else pg_config's (libpq-dev), else
# Debian's newest /usr/lib/postgresql/N/bin, else $PATH.
pg_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
	d=$(pg_config --bindir 2>/dev/null)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
	d=$(command -v initdb 2>/dev/null) && dirname "$d"
}
PG_BIN=$(pg_bindir)

# pg_as COMMAND...: COMMAND as the cluster's owner, from / (postgres may
# not enter the caller's directory).
pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u "$PG_OS_USER" -- "$@")
	else
		(cd / && "$@")
	fi
}

pg_sql() {	# pg_sql [psql options...]: as imagegen, over the socket
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" \
	    -U imagegen -d imagegen "$@"
}

pg_super() {	# pg_super [psql options...]: as the superuser, over the socket
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" \
	    -U postgres -d postgres "$@"
}

pg_log_tail() { [ -f "$PG_DIR/log" ] && tail -20 "$PG_DIR/log" | sed 's/^/#   /'; }

# pg_initdb DIR: a new cluster in DIR (owned by the cluster's user), with
# nothing of a test's in it: no port, no password.
# 1 MiB WAL segments: a copy of the template writes 16 times less.
PG_INITDB_ARGS="-U postgres -E UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256 --wal-segsize=1"
pg_initdb() {
	pg_as "$PG_BIN/initdb" -D "$1" $PG_INITDB_ARGS --no-sync --no-instructions \
	    > "$PG_DIR/initdb.log" 2>&1 ||
	    { sed 's/^/#   /' "$PG_DIR/initdb.log"; bail "initdb failed"; }
}

# The role and the database, with no password yet (start_pg sets one).
# FILE_COPY: the new database is not written through the WAL as well.
PG_SETUP_SQL="CREATE ROLE imagegen LOGIN;
CREATE DATABASE imagegen OWNER imagegen STRATEGY FILE_COPY;"

# pg_conf PORT: the test's settings, after initdb's (the last one counts).
# A throwaway cluster: nothing is flushed to disk.
pg_conf() {
	cat >> "$PG_DATA/postgresql.conf" <<-EOF

	# t/pg.sh
	listen_addresses = '127.0.0.1'
	port = $1
	unix_socket_directories = '$PG_SOCKDIR'
	fsync = off
	synchronous_commit = off
	full_page_writes = off
	max_connections = ${PG_MAX_CONNECTIONS:-200}
	log_min_messages = warning
	log_line_prefix = '%m [%p] '
	EOF
	cat > "$PG_DATA/pg_hba.conf" <<-EOF
	# t/pg.sh: the socket trusts the test's own psql; TCP asks for the password.
	local all all                trust
	host  all all 127.0.0.1/32   scram-sha-256
	EOF
}

# pg_ctl_start: pg_ctl start, 60 s at most; 0 when it accepts connections.
pg_ctl_start() {
	pg_as "$PG_BIN/pg_ctl" start -w -t 60 -s -D "$PG_DATA" -l "$PG_DIR/log" \
	    >> "$PG_DIR/pg_ctl.log" 2>&1 || return 1
	PG_PID=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null)
	[ -n "$PG_PID" ]
}

# pg_template: PG_TPL, an initdb'd cluster with the role and the database
# in it, made once (one maker at a time, the others wait). It lives in a
# directory of this user's (not a name in the shared /tmp that another
# user could have made, or made a link).
pg_template() {
	cache=${TMPDIR:-/tmp}/imagegen-pg-cache.$(id -u)
	mkdir -m 711 "$cache" 2>/dev/null
	[ -d "$cache" ] && [ ! -L "$cache" ] && [ -O "$cache" ] && chmod 711 "$cache" ||
	    bail "$cache is not a directory of this user's: remove it"
	key=$( { "$PG_BIN/postgres" --version; echo "$PG_INITDB_ARGS $PG_SETUP_SQL"; } |
	    cksum | cut -d' ' -f1)
	tpl=$cache/template.$key
	if [ ! -f "$tpl/ready" ]; then
		exec 8>"$tpl.lock" && flock -w 300 8 || bail "cannot lock $tpl.lock"
		if [ ! -f "$tpl/ready" ]; then
			rm -rf "$tpl" "$tpl.tmp"
			mkdir -p "$tpl.tmp" && pg_own "$tpl.tmp"
			(PG_DATA=$tpl.tmp/data PG_SOCKDIR=$tpl.tmp; pg_template_make) ||
			    bail "cannot make the template cluster $tpl"
			touch "$tpl.tmp/ready" && mv "$tpl.tmp" "$tpl"
		fi
		exec 8>&-
	fi
	PG_TPL=$tpl
}

# In a subshell (PG_DATA and PG_SOCKDIR are the template's): initdb, start
# on the socket alone, add the role and the database, stop.
pg_template_make() {
	pg_initdb "$PG_DATA"
	pg_as "$PG_BIN/pg_ctl" start -w -t 60 -s -D "$PG_DATA" -l "$PG_DIR/template.log" \
	    -o "-c listen_addresses= -c unix_socket_directories=$PG_SOCKDIR -c port=5432 -c fsync=off" \
	    >> "$PG_DIR/pg_ctl.log" 2>&1 || { sed 's/^/#   /' "$PG_DIR/template.log"; return 1; }
	echo "$PG_SETUP_SQL" | "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p 5432 \
	    -U postgres -d postgres
	rc=$?
	pg_as "$PG_BIN/pg_ctl" stop -w -t 60 -s -m fast -D "$PG_DATA" >> "$PG_DIR/pg_ctl.log" 2>&1 &&
	    [ $rc -eq 0 ]
}

pg_own() {	# pg_own PATH: the cluster's user's, when the suite is root's
	[ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER:" "$1"
}

start_pg() {
	[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] ||
	    bail "PostgreSQL's initdb is missing (deps.sh installs postgresql)"
	if [ "$(id -u)" -eq 0 ]; then
		id "$PG_OS_USER" >/dev/null 2>&1 ||
		    bail "no $PG_OS_USER user to run PostgreSQL as (Debian's postgresql package makes it)"
		chmod o+x "$T"
	fi
	mkdir -p "$PG_DIR" "$PG_SOCKDIR" && pg_own "$PG_DIR" && pg_own "$PG_SOCKDIR"
	pg_t0=$(date +%s%N)
	if [ "${IMAGEGEN_PG_TEMPLATE:-yes}" = no ]; then
		pg_initdb "$PG_DATA"
		fresh=1
	else
		pg_template
		cp -a "$PG_TPL/data" "$PG_DATA" || bail "cannot copy the template cluster $PG_TPL"
		fresh=0
	fi
	# A free port may be taken before the server binds it: try another.
	tries=0
	while :; do
		PG_PORT=$(free_port)
		cp "$PG_DATA/postgresql.conf" "$PG_DIR/postgresql.conf.orig" 2>/dev/null
		pg_conf "$PG_PORT"
		pg_ctl_start && break
		tries=$((tries + 1))
		if [ $tries -ge 3 ] || ! grep -q 'could not create any TCP/IP sockets' "$PG_DIR/log" 2>/dev/null; then
			pg_log_tail; bail "PostgreSQL did not start (log: $PG_DIR/log)"
		fi
		cp "$PG_DIR/postgresql.conf.orig" "$PG_DATA/postgresql.conf"
	done
	[ $fresh -eq 0 ] || echo "$PG_SETUP_SQL" | pg_super >/dev/null ||
	    bail "cannot create the imagegen role and database"
	# The password goes to psql on its standard input, never in an argument.
	PG_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	echo "ALTER ROLE imagegen PASSWORD '$PG_PASSWORD';" | pg_super >/dev/null ||
	    bail "cannot set the imagegen role's password"
	(umask 077 && printf '127.0.0.1:%s:*:imagegen:%s\nlocalhost:%s:*:imagegen:%s\n' \
	    "$PG_PORT" "$PG_PASSWORD" "$PG_PORT" "$PG_PASSWORD" > "$T/pgpass")
	PGPASSFILE=$T/pgpass
	PG_URI=postgresql://imagegen@127.0.0.1:$PG_PORT/imagegen
	export PGPASSFILE PG_URI
	PG_START_MS=$((($(date +%s%N) - pg_t0) / 1000000))
}

# pg_stop: pg_ctl stop -m fast, 60 s at most; the data and the port stay
# for pg_start. Falls back on the postmaster's pid (SIGQUIT: immediate
# shutdown, then SIGKILL) if pg_ctl cannot.
pg_stop() {
	[ -n "$PG_PID" ] || PG_PID=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null)
	[ -n "$PG_PID" ] || return 0
	if ! pg_as "$PG_BIN/pg_ctl" stop -w -t 60 -s -m fast -D "$PG_DATA" >> "$PG_DIR/pg_ctl.log" 2>&1; then
		kill -QUIT "$PG_PID" 2>/dev/null
		wait_for 10 exited "$PG_PID" || kill -9 "$PG_PID" 2>/dev/null
	fi
	wait_for 10 exited "$PG_PID"
	PG_PID=
}

pg_start() {	# pg_start: again, after pg_stop, on the same port
	pg_ctl_start || { pg_log_tail; bail "PostgreSQL did not start again (log: $PG_DIR/log)"; }
}

pg_restart() {	# pg_restart: pg_ctl restart -m fast, 60 s at most
	pg_as "$PG_BIN/pg_ctl" restart -w -t 60 -s -m fast -D "$PG_DATA" -l "$PG_DIR/log" \
	    >> "$PG_DIR/pg_ctl.log" 2>&1 || { pg_log_tail; bail "PostgreSQL did not restart"; }
	PG_PID=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null)
}

# stop_pg: for good, from cleanup; nothing when no cluster was started.
stop_pg() {
	[ -d "$PG_DATA" ] || return 0
	pg_stop
}

# start_standby: a streaming standby of the test's cluster (pg_basebackup
# -R, WAL streamed), in $T/pg-standby, on a free port and a socket
# directory of its own; the password file gets its port too. Sets
# STANDBY_PORT, STANDBY_SOCKDIR, STANDBY_DATA. The primary lets its
# superuser replicate over its socket.
start_standby() {
	STANDBY_DIR=$T/pg-standby
	STANDBY_DATA=$STANDBY_DIR/data
	STANDBY_SOCKDIR=$STANDBY_DIR/run
	mkdir -p "$STANDBY_DIR" "$STANDBY_SOCKDIR" && pg_own "$STANDBY_DIR" && pg_own "$STANDBY_SOCKDIR"
	echo "local replication all trust" >> "$PG_DATA/pg_hba.conf"
	pg_super -c 'SELECT pg_reload_conf()' >/dev/null || bail "cannot reload the primary"
	pg_as "$PG_BIN/pg_basebackup" -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres \
	    -D "$STANDBY_DATA" -R -X stream -c fast > "$STANDBY_DIR/basebackup.log" 2>&1 ||
	    { sed 's/^/#   /' "$STANDBY_DIR/basebackup.log"; bail "pg_basebackup failed"; }
	STANDBY_PORT=$(free_port)
	cat >> "$STANDBY_DATA/postgresql.conf" <<-CONF
	port = $STANDBY_PORT
	unix_socket_directories = '$STANDBY_SOCKDIR'
	CONF
	pg_as "$PG_BIN/pg_ctl" start -w -t 60 -s -D "$STANDBY_DATA" -l "$STANDBY_DIR/log" \
	    >> "$STANDBY_DIR/pg_ctl.log" 2>&1 ||
	    { tail -20 "$STANDBY_DIR/log" | sed 's/^/#   /'; bail "the standby did not start"; }
	sed "s/^127.0.0.1:$PG_PORT:/127.0.0.1:$STANDBY_PORT:/" "$PGPASSFILE" | grep "^127.0.0.1:$STANDBY_PORT:" \
	    >> "$PGPASSFILE"
	export STANDBY_PORT STANDBY_SOCKDIR
}

# promote_standby: the standby takes over as primary; t/db follows it.
promote_standby() {
	pg_as "$PG_BIN/pg_ctl" promote -w -t 60 -s -D "$STANDBY_DATA" \
	    >> "$STANDBY_DIR/pg_ctl.log" 2>&1 || bail "the standby was not promoted"
	PG_PORT=$STANDBY_PORT PG_SOCKDIR=$STANDBY_SOCKDIR
	export PG_PORT PG_SOCKDIR
}

stop_standby() {
	[ -n "${STANDBY_DATA:-}" ] && [ -f "$STANDBY_DATA/postmaster.pid" ] || return 0
	sb_pid=$(head -1 "$STANDBY_DATA/postmaster.pid")
	pg_as "$PG_BIN/pg_ctl" stop -w -t 60 -s -m fast -D "$STANDBY_DATA" >/dev/null 2>&1 ||
	    kill -QUIT "$sb_pid" 2>/dev/null
	wait_for 10 exited "$sb_pid" || kill -9 "$sb_pid" 2>/dev/null
}
