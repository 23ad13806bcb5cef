#!/bin/sh
# Authentication: generate, retry and cancel spend money or change jobs, so
# they need "Authorization: Bearer <token>" with a configured token; status
# and metrics are public, or token-protected with status_auth = token.
. "$(dirname "$0")/lib.sh"

SECOND=second-token-from-the-file-$$
start_mock
printf '# tokens for imagegen\n%s\n' "$SECOND" > "$T/tokens"
chmod 600 "$T/tokens"
write_config "api_tokens_file = $T/tokens"
start_imagegen
start_nginx
make_case case-auth 1 1

rejected() {	# rejected DESCRIPTION: 401, the challenge, a JSON error
	is "$CODE" 401 "$1: 401"
	is "$(header WWW-Authenticate)" 'Bearer realm="imagegen"' "$1: WWW-Authenticate"
	check "$1: a JSON error" test -n "$(json .error)"
}
NO_AUTH=1 post_json /api/generate-case-images "$T/case-auth.json"
rejected "no Authorization"
NO_AUTH=1 post_json /api/generate-case-images "$T/case-auth.json" -H "Authorization: Bearer wrong-token-of-some-length"
rejected "a wrong token"
NO_AUTH=1 post_json /api/generate-case-images "$T/case-auth.json" -H "Authorization: Basic $(printf 'a:%s' "$API_TOKEN" | base64 -w0)"
rejected "the Basic scheme"
NO_AUTH=1 post_json /api/generate-case-images "$T/case-auth.json" -H "Authorization: Bearer ${API_TOKEN}x"
rejected "the token with one more character"
is "$(db "SELECT count(*) FROM jobs")" 0 "nothing was written"
is "$(wc -l < "$T/mock.log" 2>/dev/null || echo 0)" 0 "nothing was paid for"

NO_AUTH=1 post_json /api/generate-case-images "$T/case-auth.json" -H "Authorization: Bearer $SECOND"
is "$CODE" 202 "a token from api_tokens_file is accepted"
check "the job finishes" wait_final case-auth 20
post_json /api/generate-case-images "$T/case-auth.json"
is "$CODE" 200 "a token from api_tokens is accepted too"

NO_AUTH=1 http POST /api/case-images/case-auth/retry
rejected "retry without a token"
NO_AUTH=1 http POST /api/case-images/case-auth/cancel
rejected "cancel without a token"
NO_AUTH=1 http GET /api/case-images/case-auth
is "$CODE" 200 "status is public by default"
NO_AUTH=1 http GET /api/metrics/image-generation
is "$CODE" 200 "so are the metrics"

set_config "status_auth = token"
kill "$IMAGEGEN_PID"; wait_for 5 sh -c "! kill -0 $IMAGEGEN_PID"; rm -f "$T/imagegen.sock"
start_imagegen
NO_AUTH=1 http GET /api/case-images/case-auth
rejected "status_auth = token: status without a token"
http GET /api/case-images/case-auth
is "$CODE" 200 "... and with one, 200"
NO_AUTH=1 http GET /api/metrics/image-generation
rejected "status_auth = token: metrics without a token"

check "no token in any log" sh -c "! grep -q -e '$API_TOKEN' -e '$SECOND' '$T/imagegen.log' '$T/nginx-error.log'"
is "$("$IMAGEGEN" config | sed -n 's/^api_tokens = //p')" "(set)" "imagegen config masks the tokens"

printf 'api_tokens = short\n' > "$T/short.conf"
printf 'database = %s\n' "$T/imagegen.db" >> "$T/short.conf"
out=$(GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI=/api/case-images/x "$IMAGEGEN" -c "$T/short.conf" 2>&1)
case $out in *"500 Internal"*) ok 0 "a token shorter than 16 characters stops start-up" ;;
*) ok 1 "a token shorter than 16 characters stops start-up" ;; esac

done_testing
