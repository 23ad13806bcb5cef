#!/bin/sh
# Every 4xx of POST /api/generate-case-images through the real stack (nginx,
# the FastCGI responder, the mock image API): the status code, a JSON body
# with an "error" string and, for a 400, the "field" at fault. Not one of
# them may write a job, an image row, a file, or call the image API.
. "$(dirname "$0")/lib.sh"

# max_body is lowered well under nginx's client_max_body_size (256k), so a
# body can pass nginx and still be too large for imagegen. It stays above
# the largest valid-size body below (a 2001-byte description, ~2.2 KB).
start_stack "max_body = 3072"

G=/api/generate-case-images

# expect CODE FIELD DESCRIPTION: checks the last response. FIELD is the
# expected "field", "" when the body must have none, or - not to look.
expect() {
	is "$CODE" "$1" "$3: $1"
	is "$(header Content-Type)" application/json "$3: Content-Type application/json"
	jcheck "$3: a JSON body with an error string" '.error | type == "string" and length > 0'
	case $2 in
	-) ;;
	"") jcheck "$3: no field" 'has("field") | not' ;;
	*) is "$(json '.field // "(none)"')" "$2" "$3: field $2" ;;
	esac
}

# case_with NAME JQ-PROGRAM: $T/NAME.json, a small valid case changed by jq.
make_case base 2 1
case_with() {
	jq -c "$2" "$T/base.json" > "$T/$1.json" || bail "jq failed for $1"
}

post() {	# post NAME: POST $T/NAME.json as JSON
	post_json "$G" "$T/$1.json"
}

too_large_logged() {	# how many times nginx refused a body as too large
	grep -c 'client intended to send too large body' "$T/nginx-error.log" 2>/dev/null
}

# --- methods and media types -------------------------------------------------
http GET "$G"
expect 405 "" "GET $G"
is "$(header Allow)" POST "GET $G: Allow: POST"

http PUT "$G" -H 'Content-Type: application/json' --data-binary "@$T/base.json"
expect 405 "" "PUT $G"
is "$(header Allow)" POST "PUT $G: Allow: POST"

http POST "$G" -H 'Content-Type: text/plain' --data-binary "@$T/base.json"
expect 415 "" "a text/plain body"

http POST "$G" -H 'Content-Type: application/jsonx' --data-binary "@$T/base.json"
expect 415 "" "Content-Type application/jsonx"

# --- sizes ---------------------------------------------------------------------
# Over imagegen's max_body, under nginx's limit: imagegen's own 413.
case_with big4k '.evidence[0].description = ([range(3900)] | map("d") | join(""))'
size=$(wc -c < "$T/big4k.json")
check "the 4 KB body is over max_body and under nginx's limit ($size bytes)" \
    test "$size" -gt 3072 -a "$size" -lt 262144
before=$(too_large_logged)
post big4k
expect 413 "" "a $size-byte body over max_body"
is "$(too_large_logged)" "$before" "the 4 KB body passed nginx: the 413 is imagegen's"

# Over nginx's client_max_body_size: nginx's 413, made JSON by error_page.
"$PYTHON3" -c 'import sys; sys.stdout.write("{\"caseId\":\"big\",\"pad\":\"" + "x" * 300000 + "\"}")' \
    > "$T/big300k.json"
post big300k
expect 413 "" "a 300 KB body"
check "the 300 KB body was refused by nginx itself" test "$(too_large_logged)" -gt "$before"

# --- the body --------------------------------------------------------------------
printf '{"caseId": "x", "evidence": [' > "$T/broken.json"
post broken
expect 400 "" "invalid JSON"

printf '[]' > "$T/array.json"
post array
expect 400 "" "an array body"

case_with nocase 'del(.caseId)'
post nocase
expect 400 caseId "a missing caseId"

case_with badcase '.caseId = "a/b"'
post badcase
expect 400 caseId "a caseId with a slash"

case_with evobj '.evidence = {"id": "x"}'
post evobj
expect 400 evidence "evidence not an array"

case_with noloc '.locations = []'
post noloc
expect 400 locations "empty locations"

case_with dup '.evidence[1].id = .evidence[0].id'
post dup
expect 400 'evidence[1].id' "duplicate ids within evidence"

case_with dupx '.locations[0].id = .evidence[1].id'
post dupx
expect 400 'locations[0].id' "a location id that repeats an evidence id"

case_with dotdot '.evidence[0].id = "../etc"'
post dotdot
expect 400 'evidence[0].id' "an id of ../etc"

case_with noname 'del(.evidence[1].name)'
post noname
expect 400 'evidence[1].name' "an item without a name"

case_with many '.evidence = [range(33) | {id: "e\(.)", name: "n", description: "d"}]'
check "33 evidence items fit in max_body ($(wc -c < "$T/many.json") bytes)" \
    test "$(wc -c < "$T/many.json")" -le 3072
post many
expect 400 evidence "33 evidence items (max_items 32)"

case_with longname '.evidence[0].name = ([range(201)] | map("n") | join(""))'
post longname
expect 400 'evidence[0].name' "a 201-byte name"

case_with longdesc '.locations[0].description = ([range(2001)] | map("d") | join(""))'
post longdesc
expect 400 'locations[0].description' "a 2001-byte description"

case_with filehook '.webhookUrl = "file:///etc/passwd"'
post filehook
expect 400 webhookUrl 'webhookUrl file:///etc/passwd'

case_with ftphook '.webhookUrl = "ftp://example.com/x"'
post ftphook
expect 400 webhookUrl 'webhookUrl ftp://'

case_with numhook '.webhookUrl = 5'
post numhook
expect 400 webhookUrl 'a numeric webhookUrl'

# Checked on the raw body, before it is parsed.
case_with latin1 '.evidence[0].name = "CAFE"'
sed -i 's/CAFE/CAF\xe9/' "$T/latin1.json"		# a Latin-1 byte, not UTF-8
post latin1
expect 400 "" 'a name in Latin-1, not UTF-8'
at=$("$PYTHON3" -c 'import sys; print(open(sys.argv[1], "rb").read().index(b"\xe9"))' "$T/latin1.json")
is "$(json .error)" "the body is not valid UTF-8 (byte $at)" "... naming the byte"
case_with surrogate '.evidence[0].name = "X"'
sed -i "s/\"X\"/\"$(printf '\355\240\200')\"/" "$T/surrogate.json"	# U+D800 in UTF-8 form
post surrogate
expect 400 "" 'a surrogate encoded as UTF-8'
case_with deep '.evidence[0].extra = [[[[[[[[[1]]]]]]]]]'
post deep
expect 400 "" 'nesting deeper than max_depth (8)'
is "$(json .error)" "the body nests deeper than 8 levels" "... saying so"

# --- other routes ------------------------------------------------------------------
http GET /api/nope
expect 404 "" "GET /api/nope (nginx's catch-all)"
jcheck "the catch-all's body is {\"error\":\"Not found\"}" '.error == "Not found"'

http POST /api/nope -H 'Content-Type: application/json' --data-binary "@$T/base.json"
expect 404 "" "POST /api/nope"

http GET /api/webhook/image-progress
expect 405 "" "GET /api/webhook/image-progress"
is "$(header Allow)" POST "GET /api/webhook/image-progress: Allow: POST"

# --- nothing was written -------------------------------------------------------
q() { db "$1"; }
is "$(q 'SELECT count(*) FROM jobs')" 0 "no job was recorded"
is "$(q 'SELECT count(*) FROM images')" 0 "no image row was recorded"
is "$(q 'SELECT count(*) FROM webhook_deliveries')" 0 "no webhook delivery was recorded"
is "$(find "$T/media" -mindepth 1 | wc -l)" 0 "nothing in the media directory"
check "the mock image API got no request" test ! -s "$T/mock.log"

# The same stack still accepts a good case: the rejections were not the
# stack being broken.
post base
is "$CODE" 202 "a valid case after all that: 202"
is "$(q 'SELECT count(*) FROM jobs')" 1 "... and it is recorded"

done_testing
