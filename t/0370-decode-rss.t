#!/bin/sh
# Bounded decoding, measured: a worker's peak RSS for a 1 MB progressive
# 8192x8192 4:4:4 JPEG (libjpeg would hold 384 MiB of coefficients), five
# of them in one job, a 60 MB answer and a gzip bomb that expands to 60 MB.
# Each stays under the cap imagegen(8) documents; real progressive 2048x2048
# pictures, within the decode budget, are still made.
. "$(dirname "$0")/lib.sh"

CAP_KIB=$((224 * 1024))	# imagegen(8), Security: a worker's peak RSS
# AddressSanitizer's shadow and quarantine make RSS figures meaningless.
SANITIZED=$(ldd "$IMAGEGEN" 2>/dev/null | grep -c 'libasan')
under_cap() {	# under_cap DESCRIPTION: the last run's RSS is under the cap
	if [ "$SANITIZED" -gt 0 ]; then
		skip 1 "peak RSS under a sanitizer"
	else
		check "$1: peak RSS ${RSS:-?} KiB, under the cap" test "${RSS:-999999999}" -lt "$CAP_KIB"
	fi
}
cat > "$T/answers.py" <<'PY'
"""The image API, answering what the prompt's [[fault:NAME]] asks for."""
import base64, gzip, json, os, re, struct, sys
sys.path.insert(0, sys.argv[3])
from loopback import QuietHandler, serve

def seg(m, body):
    return b"\xff" + bytes([m]) + struct.pack(">H", len(body) + 2) + body

def progressive_jpeg(side):
    """A progressive 4:4:4 JPEG of side x side: only its DC scan, all zero."""
    return (b"\xff\xd8" + seg(0xDB, b"\x00" + b"\x01" * 64)
            + seg(0xC2, struct.pack(">BHHB", 8, side, side, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00")
            + seg(0xC4, b"\x00\x01" + b"\x00" * 15 + b"\x00")
            + seg(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x00\x00")
            + b"\x00" * ((side // 8) ** 2 * 3 // 8) + b"\xff\xd9")

def answer(raw):
    """Gemini's generateContent answer, with raw as its picture."""
    part = {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(raw).decode()}}
    return json.dumps({"candidates": [{"content": {"role": "model", "parts": [part]},
                                       "finishReason": "STOP"}]}).encode()

ANSWERS = {"prog8192": answer(progressive_jpeg(8192)),
           "prog2048": answer(open(sys.argv[2] + "/p2048.jpg", "rb").read()),
           "plain": answer(open(sys.argv[2] + "/plain.jpg", "rb").read()),
           # 60 MB: 45 MB of random bytes after a JPEG's magic
           "big60": answer(b"\xff\xd8\xff" + os.urandom(45 * 1024 * 1024))}
# 60 MB of JSON, 60 KB on the wire
BOMB = gzip.compress(b'{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":'
                     b'"image/png","data":"' + b"A" * (60 * 1024 * 1024) + b'"}}]}}]}', 9)

class Handler(QuietHandler):
    def do_POST(self):
        prompt = self.read_body().decode("utf-8", "replace")
        m = re.search(r"\[\[fault:([a-z0-9]+)\]\]", prompt)
        kind = m.group(1) if m else "plain"
        body, extra = (BOMB, [("Content-Encoding", "gzip")]) if kind == "gzip" \
            else (ANSWERS[kind], [])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

serve(Handler, sys.argv[1])
PY
convert -size 2048x2048 plasma:red-blue -sampling-factor 1x1 -interlace JPEG -quality 90 "$T/p2048.jpg" ||
    bail "convert failed"
convert -size 1024x1024 gradient:red-blue "$T/plain.jpg"
"$PYTHON3" "$T/answers.py" "$T/answers.port" "$T" "$top_srcdir/t" </dev/null >"$T/answers.err" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 test -s "$T/answers.port" || bail "the answer server did not start: $(cat "$T/answers.err")"
MOCK_URL=http://127.0.0.1:$(cat "$T/answers.port")
write_config "retry_attempts = 1" "concurrency = 5"
start_imagegen
start_nginx

peak() {	# peak CASEID: the worker's peak RSS in KiB, from its closing log line
	sed -n "s/.*case $1: .*worker peak RSS \([0-9]*\) KiB.*/\1/p" "$T/imagegen.log" | tail -1
}
run() {	# run CASEID NEVIDENCE NLOCATIONS fault-spec...: submit, wait, set RSS
	id=$1; shift
	make_case "$id" "$@"
	post_json /api/generate-case-images "$T/$id.json"
	wait_final "$id" 120 || bail "$id did not finish"
	RSS=$(peak "$id")
	diag "$id: worker peak RSS ${RSS:-?} KiB ($(( ${RSS:-0} / 1024 )) MiB)"
}
error_of() { sqlite3 "$T/imagegen.db" "SELECT last_error FROM images WHERE case_id = '$1' AND item_id = '$2'"; }

run case-prog 1 1 "" ev-0=prog8192
under_cap "a progressive 8192x8192 JPEG"
case $(error_of case-prog ev-0) in
"image too large to decode: a 8192x8192 multi-scan JPEG needs "*) ok 0 "... refused from its header, saying why" ;;
*) ok 1 "... refused from its header, saying why"; diag "$(error_of case-prog ev-0)" ;;
esac
is "$(job_status case-prog)" partial "... and the other image is made"

run case-five 5 1 "" ev-0=prog8192 ev-1=prog8192 ev-2=prog8192 ev-3=prog8192 ev-4=prog8192
under_cap "five of them in one job"

run case-2048 4 1 "" ev-0=prog2048 ev-1=prog2048 ev-2=prog2048 ev-3=prog2048 loc-0=prog2048
is "$(job_status case-2048)" completed "five real progressive 2048x2048 4:4:4 JPEGs are made"
under_cap "... and"

run case-big 1 1 "" ev-0=big60
under_cap "a 60 MB answer"

run case-gzip 1 1 "" ev-0=gzip
under_cap "a gzip bomb of 60 MB"

done_testing
