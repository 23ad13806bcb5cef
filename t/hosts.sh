# t/hosts.sh: scaling out, for the t/05xx tests: worker hosts, each its own
# imagegen instance (config, database, media dir, FastCGI socket, log) in
# $T/NAME, behind the shipped worker server block; and the state host's
# upstream of them (nginx/imagegen-dispatch.conf), in one nginx. Sourced
# after t/lib.sh. The state host is the ordinary stack in $T.

DISPATCH_SECRET=whsec_$(head -c 32 /dev/urandom | base64 -w0)
WORKER_HOSTS=

# Workers are detached: their pids are in each host's store.
stop_hosts() {
	for h in $WORKER_HOSTS; do
		for p in $(sqlite3 "$T/$h/imagegen.db" "SELECT worker_pid FROM jobs
		    WHERE worker_pid IS NOT NULL AND status = 'generating'" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
}
trap 'stop_hosts; stop_stack; cleanup' EXIT

# plan_hosts NAME...: a loopback port for each worker host and for the
# dispatch upstream, and their nginx server blocks in $T/extra.conf.
plan_hosts() {
	DISPATCH_PORT=$(free_port)
	: > "$T/extra.conf"
	servers=
	for h in "$@"; do
		p=$(free_port)
		eval "PORT_$h=$p"
		WORKER_HOSTS="$WORKER_HOSTS $h"
		mkdir -p "$T/$h/media"
		sed -e "s|listen 80;|listen 127.0.0.1:$p;|" \
		    -e "s|imagegen_worker_fastcgi|imagegen_worker_fastcgi_$h|" \
		    -e "s|unix:/run/imagegen/imagegen.sock|unix:$T/$h/imagegen.sock|" \
		    -e "s|@sysconfdir@/imagegen.conf|$T/$h/imagegen.conf|" \
		    "$top_srcdir/nginx/imagegen-worker.conf.in" >> "$T/extra.conf"
		servers="$servers    server 127.0.0.1:$p max_fails=1 fail_timeout=${FAIL_TIMEOUT:-10s};\n"
	done
	awk -v s="$servers" '/server 192\.0\.2\.11/ { gsub(/\\n/, "\n", s); printf "%s", s; next }
	    /server 192\.0\.2\./ { next } { print }' "$top_srcdir/nginx/imagegen-dispatch.conf" |
	    sed "s|listen 127.0.0.1:8081;|listen 127.0.0.1:$DISPATCH_PORT;|" >> "$T/extra.conf"
	DISPATCH_URL=http://127.0.0.1:$DISPATCH_PORT/api/worker/jobs
}

# start_worker_host NAME [extra "key = value" lines...]
start_worker_host() {
	h=$1; shift
	d=$T/$h
	rm -f "$d/imagegen.sock"
	hook_port
	{
		echo "database = $d/imagegen.db"
		echo "media_dir = $d/media"
		echo "log = $d/imagegen.log"
		echo "log_level = debug"
		echo "provider = gemini"
		echo "gemini_url = $MOCK_URL"
		echo "check_interval = 0"
		echo "webhook_interval = 200"
		echo "webhook_allow = $(test_allow)"
		echo "webhook_private = yes"
		echo "rate_limit = 1000000"
		echo "max_inflight = 64"
		echo "dispatch_secret = $DISPATCH_SECRET"
		echo "worker_name = $h"
	} > "$d/imagegen.conf"
	set_config_in "$d/imagegen.conf" "$@"	# a key given replaces its default
	chmod 600 "$d/imagegen.conf"
	IMAGEGEN_CONFIG=$d/imagegen.conf "$IMAGEGEN" initdb >/dev/null ||
	    bail "imagegen initdb failed on $h"
	IMAGEGEN_CONFIG=$d/imagegen.conf "$SPAWN_FCGI" -n -s "$d/imagegen.sock" -- "$IMAGEGEN" \
	    </dev/null >>"$d/imagegen.log" 2>&1 &
	eval "PID_$h=$!"
	PIDS="$PIDS $!"
	wait_for 10 test -S "$d/imagegen.sock" || bail "imagegen did not start on $h"
}

# start_state_host [extra "key = value" lines...]: the ordinary stack's
# imagegen in $T, dispatching to the upstream, heard back through nginx.
start_state_host() {
	write_config "dispatch_url = $DISPATCH_URL" "dispatch_secret = $DISPATCH_SECRET" \
	    "callback_url = $BASE/api/webhook/image-progress" "$@"
	start_imagegen
}

hq() { sqlite3 -cmd '.timeout 10000' "$T/$1/imagegen.db" "$2"; }
q() { sqlite3 -cmd '.timeout 10000' "$T/imagegen.db" "$1"; }	# the state host's

submit_cases() {	# submit_cases N EVIDENCE LOCATIONS: case-0 .. case-(N-1), to the state host
	sc_i=0
	while [ $sc_i -lt "$1" ]; do
		make_case "case-$sc_i" "$2" "$3"
		post_json /api/generate-case-images "$T/case-$sc_i.json"
		[ "$CODE" = 202 ] || diag "case-$sc_i: generate answered $CODE: $(cat "$T/body")"
		sc_i=$((sc_i + 1))
	done
}
