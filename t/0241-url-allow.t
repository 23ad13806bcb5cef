#!/bin/sh
# Where a webhook may go, probed as an attacker would: webhook_allow is
# judged on the URL's parts as libcurl parses them, not on its text, so a
# userinfo ("allowed-host@other-host") or a dotted suffix of an allowed
# host is refused; and the special-purpose ranges of the IANA registries
# that are not globally reachable (benchmarking, TEST-NETs, NAT64 of a
# private address, IPv4-compatible IPv6...) are refused at submit and at
# connect. Runs in a network of its own: "other hosts" are listeners on
# loopback addresses that log any connection, and none may see one.
. "$(dirname "$0")/lib.sh"
own_network

# Listeners that log each connection: trap_at ADDRESS NAME, its port in TRAP_PORT.
trap_at() {
	rm -f "$T/$2.port"
	"$PYTHON3" - "$1" "$T/$2.port" "$T/$2.log" <<-'PY' >>"$T/traps.err" 2>&1 &
	import os, socket, sys
	host, port_file, log = sys.argv[1:4]
	s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
	s.bind((host, 0))
	s.listen(16)
	open(port_file + ".tmp", "w").write("%d\n" % s.getsockname()[1])
	os.rename(port_file + ".tmp", port_file)
	while True:
	    c, peer = s.accept()
	    with open(log, "a") as f:
	        f.write("connection from %s\n" % (peer[0],))
	    c.close()
	PY
	PIDS="$PIDS $!"
	wait_for 20 test -s "$T/$2.port" || bail "the listener on $1 did not start"
	TRAP_PORT=$(cat "$T/$2.port")
}
connections() { cat "$T/$1.log" 2>/dev/null | wc -l; }

# 127.0.0.2 is loopback too; 198.18.0.1 (benchmarking) and its NAT64 form
# are given to lo here, as a host on such a network would have them.
ip addr add 198.18.0.1/32 dev lo || bail "cannot add 198.18.0.1"
ip -6 addr add 64:ff9b::c612:1/128 dev lo nodad || bail "cannot add 64:ff9b::c612:1"
trap_at 127.0.0.2 other
OTHER=$TRAP_PORT
trap_at 198.18.0.1 bench
BENCH=$TRAP_PORT
trap_at 64:ff9b::c612:1 nat64
NAT64=$TRAP_PORT
# Names that resolve to them, in this test's own /etc/hosts.
cp /etc/hosts "$T/hosts"
cat >> "$T/hosts" <<-HOSTS
127.0.0.2 game.example.com.attacker.test attacker.test
198.18.0.1 bench.game.test
64:ff9b::c612:1 nat64.game.test
HOSTS
mount --bind "$T/hosts" /etc/hosts || bail "cannot mount the test's /etc/hosts"

start_receiver
start_stack "webhook_allow = http://127.0.0.1:$HOOK_PORT http://game.example.com" \
    "webhook_private = yes" "webhook_retries = 0"
restart() {	# the responder reads its config at start
	kill "$IMAGEGEN_PID"; wait_for 5 sh -c "! kill -0 $IMAGEGEN_PID"; rm -f "$T/imagegen.sock"
	start_imagegen
}
n=0
refused() {	# refused URL REASON
	n=$((n + 1))
	make_case "case-$n" 1 1 "$1"
	post_json /api/generate-case-images "$T/case-$n.json"
	is "$CODE/$(json .field)/$(json .error)" "400/webhookUrl/$2" "$1: 400, $2"
}
ends_delivered() {	# ends_delivered CASEID: the case's webhooks are all settled
	wait_final "$1" 30 &&
	    wait_for 30 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT count(*) FROM webhook_deliveries WHERE case_id = '$1' AND status = 'pending'\")\" = 0 ]"
}

# 1. The allowlist, by parts: the issue's probes.
refused "http://127.0.0.1:$HOOK_PORT@127.0.0.2:$OTHER/" \
    "webhookUrl must not carry a user name or password"
refused "http://game.example.com@127.0.0.2:$OTHER/hook" \
    "webhookUrl must not carry a user name or password"
refused "http://game.example.com.attacker.test:$OTHER/hook" "webhookUrl is not on the allowlist"
refused "http://game.example.comx:$OTHER/hook" "webhookUrl is not on the allowlist"
refused "http://127.0.0.2:$HOOK_PORT/hook" "webhookUrl is not on the allowlist"
is "$(db "SELECT count(*) FROM jobs")" 0 "no refused case was recorded"
make_case case-ok 1 1 "$HOOK_URL"
post_json /api/generate-case-images "$T/case-ok.json"
is "$CODE" 202 "the allowed receiver's URL is taken"
check "... and its webhooks are delivered" ends_delivered case-ok
is "$(db "SELECT group_concat(event || ' ' || status, ', ') FROM (SELECT * FROM webhook_deliveries WHERE case_id = 'case-ok' AND event IN ('start', 'final') ORDER BY id) AS d")" \
    "start delivered, final delivered" "... start and final"

# 2. The special-purpose ranges, as literals: refused at submit.
set_config "webhook_allow =" "webhook_private = no"
restart
refused "https://198.18.0.1/hook" "webhookUrl points to a private address"
refused "https://192.0.0.1/hook" "webhookUrl points to a private address"
refused "https://192.0.2.10/hook" "webhookUrl points to a private address"
refused "https://198.51.100.7/hook" "webhookUrl points to a private address"
refused "https://203.0.113.9/hook" "webhookUrl points to a private address"
refused "https://[::127.0.0.1]/hook" "webhookUrl points to a private address"
refused "https://[::ffff:198.18.0.1]/hook" "webhookUrl points to a private address"
refused "https://[64:ff9b::a00:1]/hook" "webhookUrl points to a private address"
refused "https://[100::1]/hook" "webhookUrl points to a private address"
refused "https://[2001:db8::1]/hook" "webhookUrl points to a private address"
refused "https://[2002:c0a8:1::1]/hook" "webhookUrl points to a private address"
refused "https://[2001::1]/hook" "webhookUrl points to a private address"

# 3. ... and by name, at connect: the names pass the checks on the URL.
set_config "webhook_allow = http://bench.game.test:$BENCH http://nat64.game.test:$NAT64"
restart
for hook in "http://bench.game.test:$BENCH/hook" "http://nat64.game.test:$NAT64/hook"; do
	n=$((n + 1))
	make_case "case-$n" 1 1 "$hook"
	post_json /api/generate-case-images "$T/case-$n.json"
	is "$CODE" 202 "$hook: taken (a name is judged at connect)"
	check "... the job ends, its webhooks given up" ends_delivered "case-$n"
	is "$(db "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'case-$n' AND status = 'delivered'")" 0 \
	    "... nothing was delivered"
done
check "the log names 198.18.0.1 as refused" \
    grep -q "refused to connect to the private address 198.18.0.1" "$T/imagegen.log"
check "the log names 64:ff9b::c612:1 as refused" \
    grep -q "refused to connect to the private address 64:ff9b::c612:1" "$T/imagegen.log"

# Nothing reached the other hosts.
is "$(connections other)" 0 "no connection to 127.0.0.2 (the userinfo's and suffix's host)"
is "$(connections bench)" 0 "no connection to 198.18.0.1 (benchmarking)"
is "$(connections nat64)" 0 "no connection to 64:ff9b::c612:1 (NAT64 of 198.18.0.1)"

done_testing
