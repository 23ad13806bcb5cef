#!/bin/sh
# FastCGI clients that stall on the responder's socket (any process allowed
# on it, another application on a shared host say): 8 that send nothing
# or half their parameters, 3 that send half of a 2 KB body, and 4 half of
# a 200 KB one. Only the last hold threads, 3 of the 4 (the fourth waits):
# one thread is kept for requests that have arrived, and the status route
# and generate answer meanwhile, through nginx. Each staller is answered
# 408, or closed, after input_timeout.
. "$(dirname "$0")/lib.sh"

# stall N HOW: N connections to the FastCGI socket that stall, HOW being
# "nothing", "params" (half of them), "body" (the parameters, then half of
# a 2 KB body) or "bigbody" (half of a 200 KB body). Each logs to
# $T/stall.log when the responder ends it: "HOW closed SECONDS STATUS",
# STATUS the CGI status it got, or "-".
stall() {
	"$PYTHON3" - "$T/imagegen.sock" "$1" "$2" "$T/stall.log" "$API_TOKEN" <<-'PY' &
	import socket, struct, sys, threading, time
	sock, n, how, log, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
	def record(kind, data=b""):
	    if len(data) > 32768:
	        return b"".join(record(kind, data[i:i + 32768]) for i in range(0, len(data), 32768))
	    pad = -len(data) % 8
	    return struct.pack(">BBHHBB", 1, kind, 1, len(data), pad, 0) + data + b"\0" * pad
	def pair(k, v):
	    return bytes([len(k), len(v)]) + k.encode() + v.encode()
	body = b'{"caseId":"stalled","evidence":[' + b" " * (200000 if how == "bigbody" else 2000) + b"]}"
	params = b"".join(pair(k, v) for k, v in {
	    "REQUEST_METHOD": "POST", "REQUEST_URI": "/api/generate-case-images",
	    "DOCUMENT_URI": "/api/generate-case-images", "CONTENT_TYPE": "application/json",
	    "CONTENT_LENGTH": str(len(body)), "HTTP_AUTHORIZATION": "Bearer " + token}.items())
	def one():
	    s = socket.socket(socket.AF_UNIX)
	    s.connect(sock)
	    t0 = time.time()
	    if how == "params":
	        s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, params[:len(params) // 2]))
	    elif how in ("body", "bigbody"):
	        s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4) +
	                  record(5, body[:len(body) // 2]))
	    s.settimeout(120)
	    out = b""
	    try:
	        while True:
	            chunk = s.recv(65536)
	            if not chunk:
	                break
	            out += chunk
	    except OSError:
	        pass
	    status = "-"
	    i = out.find(b"Status: ")
	    if i >= 0:
	        status = out[i + 8:i + 11].decode()
	    with open(log, "a") as f:
	        f.write("%s closed %.1f %s\n" % (how, time.time() - t0, status))
	threads = [threading.Thread(target=one) for _ in range(n)]
	for t in threads:
	    t.start()
	for t in threads:
	    t.join()
	PY
	PIDS="$PIDS $!"
}
ended() { [ "$(grep -c " closed " "$T/stall.log" 2>/dev/null)" -ge "$1" ]; }
connected() {	# the responder holds at least N connections on its socket
	[ "$(ss -xH state connected 2>/dev/null | grep -c "$T/imagegen.sock")" -ge "$1" ]
}
answers() {	# answers ROUTE: a GET through nginx answers within 5 s
	curl -s -m 5 -o /dev/null -w '%{http_code}' "$BASE$1"
}

start_stack "threads = 4" "input_timeout = 3"
make_case case-s 1 1
stall 4 nothing
stall 4 params
stall 3 body
stall 4 bigbody
check "the 15 stallers are connected" wait_for 20 connected 15
ok_polls=0
for i in 1 2 3 4 5; do
	[ "$(answers /api/case-images/case-s)" = 404 ] && ok_polls=$((ok_polls + 1))
done
is "$ok_polls" 5 "status answers, 5 polls of 5, while 15 clients stall on the socket"
post_json /api/generate-case-images "$T/case-s.json" -m 5
is "$CODE" 202 "generate answers meanwhile"
check "the 15 stallers are ended" wait_for 30 ended 15
is "$(grep -c 'body closed .* 408$' "$T/stall.log")" 7 \
    "each body that stalled is answered 408, after input_timeout"
is "$(awk '$1 !~ /body/ && $4 == "-"' "$T/stall.log" | wc -l)" 8 \
    "each request whose parameters stalled is closed, unanswered"
early=$(awk '$3 < 2.5' "$T/stall.log" | wc -l)
is "$early" 0 "none was ended before input_timeout (3 s)"
check "the log says why, at debug" grep -q "intake: .*input_timeout" "$T/imagegen.log"
is "$(answers /api/case-images/case-s)" 200 "status answers after, as before"

done_testing
