# t/hosts.sh: many hosts on one PostgreSQL, as imagegen(8) SCALING OUT lays
# them out, on loopback: each host its own imagegen instance (config with
# its host_id, FastCGI socket, media spool, log) in $T/hN, all on the
# test's database; one nginx in front, its upstream every host's socket, as
# a load balancer is in front of the hosts' own nginx. Sourced after
# t/lib.sh, by tests that call pg_test first; the mock must be started.
#
#   start_hosts N [PROCS] ["key = value"...]: hosts h1..hN, each PROCS
#       responder processes (spawn-fcgi -F, 1 by default); then nginx
#   host_pids I: the pids of host I's processes, its workers included
#   responders_alive: how many of the hosts' responders live
#   kill_host I: SIGKILL every process of host I, as a host that dies
#   start_host I: host I again, on its socket (after kill_host)
#   bad_pictures [WHERE]: how many of the images' pictures (those of the
#       images table, WHERE as SQL) are not whole 512x512 JPEGs, fetched
#       through the balancer
#   submit_cases N NE NL: cases case-1..case-N of NE evidence and NL
#       locations, posted through the balancer

HOSTS=0

# The shipped site, with pictures in the database (media_store = database,
# the default on PostgreSQL), its upstream every host's socket.
hosts_nginx() {
	servers=
	i=1
	while [ $i -le "$HOSTS" ]; do
		servers="$servers server unix:$T/h$i/imagegen.sock max_fails=1 fail_timeout=2s;"
		i=$((i + 1))
	done
	NGINX_UPSTREAM=$servers start_nginx imagegen-database.conf
}

# host_config I ["key = value"...]: $T/hI/imagegen.conf, the test's own
# config but for what is the host's.
host_config() {
	d=$T/h$1; shift
	mkdir -p "$d/media"
	sed -e "s|^media_dir = .*|media_dir = $d/media|" -e "s|^log = .*|log = $d/imagegen.log|" \
	    -e '/^media_store = /d' "$T/imagegen.conf" > "$d/imagegen.conf"
	set_config_in "$d/imagegen.conf" "host_id = h${d##*/h}" "$@"
	chmod 600 "$d/imagegen.conf"
}

start_host() {	# start_host I: its responders (HOST_PROCS each) on $T/hI/imagegen.sock
	d=$T/h$1
	rm -f "$d/imagegen.sock" "$d/imagegen.pids"
	IMAGEGEN_CONFIG=$d/imagegen.conf "$SPAWN_FCGI" -F "$HOST_PROCS" -P "$d/imagegen.pids" \
	    -s "$d/imagegen.sock" -- "$IMAGEGEN" </dev/null >>"$d/spawn-fcgi.log" 2>&1 ||
	    bail "spawn-fcgi failed for host h$1"
	PIDS="$PIDS $(cat "$d/imagegen.pids")"
	wait_for 30 test -S "$d/imagegen.sock" || bail "host h$1 did not start"
}

start_hosts() {	# start_hosts N [PROCS] ["key = value"...]
	HOSTS=$1
	HOST_PROCS=${2:-1}
	shift; [ $# -gt 0 ] && shift
	write_config "$@"
	i=1
	while [ $i -le "$HOSTS" ]; do
		host_config $i
		start_host $i
		i=$((i + 1))
	done
	hosts_nginx
}

bad_pictures() {
	bp=0
	for p in $(db "SELECT case_id || '/' || item_id FROM images ${1:+WHERE $1}"); do
		curl -s -m 10 -o "$T/pic.jpg" "$BASE/media/$p.jpg"
		[ "$(identify -format '%m %wx%h' "$T/pic.jpg" 2>/dev/null)" = "JPEG 512x512" ] ||
		    bp=$((bp + 1))
	done
	echo $bp
}

submit_cases() {
	sc=1
	while [ $sc -le "$1" ]; do
		make_case case-$sc "$2" "$3"
		post_json /api/generate-case-images "$T/case-$sc.json"
		[ "$CODE" = 202 ] || diag "case-$sc: $CODE $(cat "$T/body")"
		sc=$((sc + 1))
	done
}

responders_alive() {
	n=0
	for f in "$T"/h*/imagegen.pids; do
		for p in $(cat "$f"); do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
	done
	echo $n
}

# Every process of the host: its responders, and the workers and reapers
# they started, known by the config they run on.
host_pids() {
	for p in $(pgrep -x imagegen); do
		{ tr '\0' '\n' < "/proc/$p/environ"; } 2>/dev/null |
		    grep -qx "IMAGEGEN_CONFIG=$T/h$1/imagegen.conf" && ! exited "$p" && echo "$p"
	done
}

# Again until none is left: a worker forked as its parent was killed is
# seen only once that parent is gone (seen under ASan, where exec is slow:
# it finished 2 of the dead host's jobs).
kill_host() {
	kh=0
	while pids=$(host_pids "$1"); [ -n "$pids" ] && [ $kh -lt 20 ]; do
		for p in $pids; do kill -9 "$p" 2>/dev/null; done
		for p in $pids; do wait_for 10 exited "$p"; done
		kh=$((kh + 1))
	done
	[ -z "$pids" ] || bail "host h$1 still has processes: $(ps -o pid=,stat=,args= -p "$(echo $pids | tr ' ' ,)")"
	rm -f "$T/h$1/imagegen.sock"
}

# The hosts' workers go with the stack: stop_stack reads the database's.
stop_hosts() {
	i=1
	while [ $i -le "$HOSTS" ]; do
		for p in $(host_pids $i); do kill -9 "$p" 2>/dev/null; done
		if [ "$tap_failed" -gt 0 ] && [ -f "$T/h$i/imagegen.log" ]; then
			echo "# h$i/imagegen.log:"
			grep -v ' debug: ' "$T/h$i/imagegen.log" | tail -25 | sed 's/^/#   /'
		fi
		i=$((i + 1))
	done
}
before_cleanup stop_hosts
