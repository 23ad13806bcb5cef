#!/bin/sh
# SSRF: a client names the webhook URL, so by default it must be https and
# must not lead to a private, loopback or link-local address; the check is
# made on the address actually connected to, not only on the name.
. "$(dirname "$0")/lib.sh"

start_receiver
start_stack "webhook_allow =" "webhook_private = no" "webhook_retries = 0"
restart() {	# the responder reads its config at start
	kill "$IMAGEGEN_PID"; wait_for 5 sh -c "! kill -0 $IMAGEGEN_PID"; rm -f "$T/imagegen.sock"
	start_imagegen
}
refused() {	# refused URL REASON
	make_case case-ssrf 1 1 "$1"
	post_json /api/generate-case-images "$T/case-ssrf.json"
	is "$CODE/$(json .field)/$(json .error)" "400/webhookUrl/$2" "$1: 400, $2"
}
refused "$HOOK_URL" "webhookUrl must be https"
refused "https://127.0.0.1/hook" "webhookUrl points to a private address"
refused "https://10.1.2.3/hook" "webhookUrl points to a private address"
refused "https://192.168.0.7:8443/hook" "webhookUrl points to a private address"
refused "https://169.254.169.254/latest/meta-data" "webhookUrl points to a private address"
refused "https://[::1]/hook" "webhookUrl points to a private address"
refused "https://[fd00::1]/hook" "webhookUrl points to a private address"
refused "https://localhost/hook" "webhookUrl points to a private address"
is "$(db "SELECT count(*) FROM jobs")" 0 "no refused case was recorded"

# An allowlist: only URLs under its prefixes.
set_config "webhook_allow = https://game.example/api/ http://localhost:$HOOK_PORT"
restart
refused "https://evil.example/api/hook" "webhookUrl is not on the allowlist"
refused "https://game.example.evil/api/hook" "webhookUrl is not on the allowlist"

# A name that resolves to loopback (this host's own name, from /etc/hosts):
# it passes the checks on the URL, and is refused at connect.
name=$(hostname)
addr=$(getent hosts "$name" | awk '{print $1; exit}')
case $addr in
127.*|::1)
	port=$(cat "$T/hook.port")
	set_config "webhook_allow = http://$name:$port"
	restart
	make_case case-dns 1 1 "http://$name:$port/hook"
	post_json /api/generate-case-images "$T/case-dns.json"
	is "$CODE" 202 "a webhook by name ($name) passes the checks on the URL"
	check "the job finishes" wait_final case-dns 20
	settled() { [ "$(db "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'case-dns' AND status = 'pending'")" = 0 ]; }
	wait_for 20 settled
	is "$(db "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'case-dns' AND status = 'delivered'")" 0 \
	    "nothing was delivered to the address it resolved to ($addr)"
	is "$(wc -l < "$T/hook.log" 2>/dev/null || echo 0)" 0 "the receiver on loopback got no post"
	check "the log says why" grep -q "refused to connect to the private address $addr" "$T/imagegen.log"
	is "$(job_status case-dns)" completed "the job itself is unaffected"
	;;
*)
	skip 5 "this host's name does not resolve to loopback"
	;;
esac

done_testing
