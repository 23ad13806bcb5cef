#!/bin/sh
# nginx's own errors are JSON too, for both shipped server blocks: a
# lower-case method, %00 in a path, a 10 KB header, a URI too long, a
# directory or a missing file under /media/, one nginx cannot open, a
# method nginx refuses, a body too large (with Content-Length, or chunked to
# any route) and a responder that is gone; and /media/ sends one
# Cache-Control header.
. "$(dirname "$0")/lib.sh"

# probe DESCRIPTION STATUS curl-arguments...: nginx answers STATUS in JSON
probe() {
	desc=$1 want=$2; shift 2
	rm -f "$T/body" "$T/headers"
	got=$(curl -s -m 10 -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@")
	is "$got" "$want" "$conf: $desc: $want"
	ct=$(tr -d '\r' < "$T/headers" | awk 'tolower($1) == "content-type:" {print $2}')
	if [ "$ct" = application/json ] && jq -e '.error | strings' "$T/body" >/dev/null 2>&1; then
		ok 0 "$conf: ... as a JSON error"
	else
		ok 1 "$conf: ... as a JSON error"
		diag "Content-Type: $ct; body: $(head -c 120 "$T/body")"
	fi
}

long=$(head -c 10240 /dev/zero | tr '\0' a)
probes() {
	mkdir -p "$T/media/case-x"
	convert -size 8x8 xc:red "$T/media/case-x/ev-0.jpg"
	probe "a lower-case method" 400 -X get "$BASE/api/case-images/case-x"
	probe "a lower-case method on /media/" 400 -X get "$BASE/media/case-x/ev-0.jpg"
	probe "%00 in a path" 400 "$BASE/api/case-images/a%00b"
	probe "%00 in a media path" 400 "$BASE/media/case-x/a%00b.jpg"
	probe "a 10 KB header" 400 -H "X-Big: $long" "$BASE/api/case-images/case-x"
	probe "a 10 KB URI" 414 "$BASE/api/case-images/$long"
	probe "the media directory" 403 "$BASE/media/"
	probe "a case's media directory" 403 "$BASE/media/case-x/"
	probe "a missing media file" 404 "$BASE/media/case-x/nope.jpg"
	probe "a worker's temporary file" 404 "$BASE/media/case-x/.ev-1.jpg.1.tmp"
	# open(2) of a socket fails with ENXIO, which nginx answers 500.
	rm -f "$T/media/case-x/sock.jpg"
	"$PYTHON3" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
	    "$T/media/case-x/sock.jpg"
	probe "a media file nginx cannot open" 500 "$BASE/media/case-x/sock.jpg"
	probe "POST to a media file" 405 -X POST -d x "$BASE/media/case-x/ev-0.jpg"
	probe "TRACE" 405 -X TRACE "$BASE/api/case-images/case-x"
	head -c 300000 /dev/zero > "$T/big.json"
	probe "a body over client_max_body_size" 413 -H 'Content-Type: application/json' \
	    --data-binary "@$T/big.json" "$BASE/api/generate-case-images"
	# Chunked, the size is found while the body is read, past the
	# route's own limit (8 MiB for progress updates, 256 KiB elsewhere).
	head -c 9437184 /dev/zero > "$T/big9.json"
	for route in /api/webhook/image-progress /api/generate-case-images \
	    /api/case-images/case-x/retry /api/case-images/case-x/cancel \
	    /api/case-images/case-x /api/case-images /api/metrics/image-generation; do
		probe "a chunked 9 MB body to $route" 413 -H 'Content-Type: application/json' \
		    -H 'Transfer-Encoding: chunked' --data-binary "@$T/big9.json" "$BASE$route"
	done
	code=$(curl -s -m 10 -o "$T/img" -D "$T/headers" -w '%{http_code}' "$BASE/media/case-x/ev-0.jpg")
	is "$code/$(tr -d '\r' < "$T/headers" | grep -ci '^cache-control:')" 200/1 \
	    "$conf: a media file is served with one Cache-Control header"
	check "$conf: ... public, immutable, for 30 days" \
	    grep -qi '^cache-control: public, max-age=2592000, immutable' "$T/headers"
}

conf=imagegen.conf
start_stack
probes
kill "$IMAGEGEN_PID"
wait_for 10 exited "$IMAGEGEN_PID"
probe "no responder behind the socket" 503 "$BASE/api/case-images/case-x"
stop_stack
rm -f "$T/mock.port" "$T/imagegen.sock"

conf=imagegen-cgi.conf
start_mock
write_config
start_fcgiwrap
start_nginx imagegen-cgi.conf
probes
probe "the CGI route still answers in JSON" 404 "$BASE/api/case-images/case-x"

done_testing
