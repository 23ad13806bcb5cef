#!/bin/sh
# The progress route, tried as an attacker would: by default an update
# must be signed (webhook_secret serves as the inbound secret too), what
# it carries is validated (URLs, data: pictures stored as files, counts
# derived from the rows), and a job its own worker holds is that worker's.
. "$(dirname "$0")/lib.sh"

orphan() {	# orphan CASEID: a job whose local worker is killed at once
	make_case "$1" 2 1 "" ev-0=hang=60 ev-1=hang=60 loc-0=hang=60
	post_json /api/generate-case-images "$T/$1.json"
	wait_for 10 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT status FROM jobs WHERE case_id = '$1'\")\" = generating ]" ||
	    bail "$1 did not start"
	kill_worker "$1"
}
update() {	# update CASEID STATUS COMPLETED EVIDENCE-MAP [LOCATION-MAP]: in $T/u.json
	printf '{"caseId":"%s","status":"%s","completedImages":%s,"totalImages":3,"evidenceImages":%s,"locationImages":%s,"failedIds":[]}' \
	    "$1" "$2" "$3" "$4" "${5:-{\}}" > "$T/u.json"
}
restart() {	# restart [config lines...]: the whole stack again, on fresh ports
	stop_stack
	rm -f "$T/mock.port" "$T/imagegen.sock"
	MOCK_ARGS="--latency 0.05" start_stack "$@"
}
row() { db "SELECT $2 FROM jobs WHERE case_id = '$1'"; }

# 1. A default install: no secret, so every update is refused.
MOCK_ARGS="--latency 0.05" start_stack
orphan case-a
update case-a completed 999999 '{"ev-0":"https://attacker.example/x.jpg"}'
post_json /api/webhook/image-progress "$T/u.json"
is "$CODE" 401 "default install: an unsigned update is 401"
check "... with WWW-Authenticate" sh -c "grep -qi '^WWW-Authenticate: Webhook realm=\"imagegen\"' '$T/headers'"
jcheck "... and a JSON error saying why" '.error | test("must be signed")'
post_progress "$T/u.json"
is "$CODE" 401 "default install: a signed update is 401 too (no secret to check it)"
is "$(row case-a status)/$(row case-a completed_images)" generating/0 "nothing was written"
check "the responder warned at start-up" \
    grep -q "no webhook_verify_secrets or webhook_secret: /api/webhook/image-progress refuses every update" "$T/imagegen.log"

# 2. One secret on a single host: webhook_secret signs and verifies.
restart "webhook_secret = $HOOK_SECRET" \
    "image_url_allow = https://cdn.example/ https://img.example/case/"
post_json /api/webhook/image-progress "$T/u.json"
is "$CODE" 401 "with webhook_secret: unsigned is 401"
update case-a generating 1 '{"ev-0":"https://cdn.example/ev-0.jpg"}'
post_progress "$T/u.json"
is "$CODE" 200 "... and an update signed with webhook_secret is applied"

# 3. What an update may carry: URLs.
bad_url() {	# bad_url URL DESCRIPTION
	update case-a generating 1 "{\"ev-1\":\"$1\"}"
	post_progress "$T/u.json"
	is "$CODE/$(json .field)" 400/evidenceImages.ev-1 "$2: 400 naming the field"
}
bad_url 'javascript:alert(1)' "javascript:"
bad_url 'https://attacker.example/x.jpg' "another host"
bad_url 'https://cdn.example.attacker.example/x.jpg' "a host that starts like an allowed one"
bad_url 'https://img.example/other/x.jpg' "the allowed host outside the allowed path"
bad_url 'https://user@cdn.example/x.jpg' "userinfo"
bad_url 'http://cdn.example/x.jpg' "the allowed prefix's host by another scheme"
bad_url '/media/case-b/ev-1.jpg' "another case's media path"
bad_url '/media/case-a/../x/ev-1.jpg' "a media path with .."
bad_url 'data:text/html;base64,PHNjcmlwdD4=' "a data: URL that is not an image type"
bad_url 'data:image/png;base64,!!!!' "a data: URL that is not base64"
bad_url "data:image/jpeg;base64,$(head -c 3000 /dev/urandom | base64 -w0)" "a data: URL of random bytes"
convert -size 100x100 gradient:red-blue "$T/small.png"
bad_url "data:image/png;base64,$(base64 -w0 "$T/small.png")" "a 100x100 picture, not image_size"
check "... saying what size it should be" sh -c "jq -r .error '$T/body' | grep -q 'not the 512x512'"
# 8 MB of data: 400, and the database does not grow.
db_size() {	# the database's bytes, on either engine
	if on_pg; then db "SELECT pg_database_size('imagegen')"
	else db "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null; stat -c %s "$T/imagegen.db"; fi
}
size0=$(db_size)
head -c 6000000 /dev/urandom > "$T/big.bin"
printf '{"caseId":"case-a","status":"generating","completedImages":1,"totalImages":3,"evidenceImages":{"ev-1":"data:image/jpeg;base64,%s"},"locationImages":{},"failedIds":[]}' \
    "$(base64 -w0 "$T/big.bin")" > "$T/u.json"
post_progress "$T/u.json"
is "$CODE/$(json .field)" 400/evidenceImages.ev-1 "an 8 MB data: URL is 400"
check "... saying it is too big" sh -c "jq -r .error '$T/body' | grep -q 'more than 2097152'"
check "... and the database did not grow ($size0 -> $(db_size) bytes)" \
    test "$(db_size)" -lt $((size0 + 1000000))
is "$(db "SELECT count(*) FROM images WHERE case_id = 'case-a' AND status = 'completed'")" 1 \
    "none of the refused updates wrote an image"
# Good ones: the case's own media path, an allowed prefix, a real picture.
convert -size 512x512 gradient:green-yellow "$T/good.png"
update case-a generating 2 '{"ev-0":"https://cdn.example/ev-0.jpg","ev-1":"/media/case-a/ev-1.jpg"}' \
    "{\"loc-0\":\"data:image/png;base64,$(base64 -w0 "$T/good.png")\"}"
post_progress "$T/u.json"
is "$CODE" 200 "the case's own media path, an allowed URL and a 512x512 PNG are taken"
http GET /api/case-images/case-a
loc=$(json '.locationImages["loc-0"]')
check "the PNG is served as a JPEG file of ours ($loc)" \
    sh -c "echo '$loc' | grep -Eq '^/media/case-a/loc-0-[0-9a-f]{10}[.]jpg$'"
curl -s -o "$T/loc.jpg" "$BASE$loc"
is "$(identify -format '%m %w %h' "$T/loc.jpg")" "JPEG 512 512" "... which nginx serves"

# 4. Counts: checked, never stored as sent.
orphan case-c
update case-c generating 1000000 '{"ev-0":"https://cdn.example/c0.jpg"}'
post_progress "$T/u.json"
is "$CODE/$(json .error)" "400/completedImages is more than totalImages" "completedImages 1000000 for 3 images is 400"
printf '{"caseId":"case-c","status":"generating","completedImages":1,"totalImages":12,"evidenceImages":{},"locationImages":{},"failedIds":[]}' > "$T/u.json"
post_progress "$T/u.json"
is "$CODE/$(json .field)" 400/totalImages "totalImages 12 for a 3-image job is 400"
update case-c completed 3 '{"ev-0":"https://cdn.example/c0.jpg"}'
post_progress "$T/u.json"
is "$CODE" 200 "a final update claiming 3 of 3 with one image is applied..."
http GET /api/case-images/case-c
is "$(json .status)/$(json .completedImages)/$(json .totalImages)" partial/1/3 \
    "... as the rows say: partial, 1 of 3"
check "the counters agree with the rows" counters_match case-c

# 5. A job its own worker holds is that worker's: 409, and the worker
# claims it, runs it and finishes it with its own images.
make_case case-own 2 1 "" ev-0=delay=8 ev-1=delay=8 loc-0=delay=8
update case-own completed 3 '{"ev-0":"https://cdn.example/own0.jpg","ev-1":"https://cdn.example/own1.jpg"}' \
    '{"loc-0":"https://cdn.example/own2.jpg"}'
post_json /api/generate-case-images "$T/case-own.json"
post_progress "$T/u.json"
code1=$CODE
gen() { [ "$(row case-own status)" = generating ]; }
wait_for 10 gen
post_progress "$T/u.json"
is "$code1/$CODE" 409/409 "updates sent right after generate, and while its worker runs, are 409"
check "the job's own worker finishes it" wait_final case-own 20
http GET /api/case-images/case-own
is "$(json .status)/$(json .completedImages)" completed/3 "... completed, 3 of 3"
check "... with no outside URL" sh -c "! grep -q cdn.example '$T/body'"
check "the worker claimed the job (no 'not claimed')" sh -c "! grep -q 'case case-own: not claimed' '$T/imagegen.log'"

# 6. webhook_verify = off: unsigned updates are taken, with a warning.
restart "webhook_verify = off"
orphan case-off
update case-off generating 1 '{"ev-0":"/media/case-off/ev-0.jpg"}'
post_json /api/webhook/image-progress "$T/u.json"
is "$CODE" 200 "webhook_verify = off: an unsigned update is applied"
check "... and the responder warned at start-up" \
    grep -q "webhook_verify = off: anyone who can reach" "$T/imagegen.log"
update case-off generating 1 '{"ev-1":"javascript:alert(1)"}'
post_json /api/webhook/image-progress "$T/u.json"
is "$CODE" 400 "... but its URLs are still checked"

done_testing
