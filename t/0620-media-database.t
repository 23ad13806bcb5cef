#!/bin/sh
# media_store = database, PostgreSQL's default: each JPEG is written in
# its image's transaction (the table media) and served by the responder at
# the URL nginx serves from media_dir otherwise: GET and HEAD, its SHA-256
# as ETag, Cache-Control immutable, 304 on If-None-Match. The shipped
# nginx/imagegen-database.conf puts fastcgi_cache in front. No file stays
# in media_dir; image_urls = data reads the pictures from the database.
. "$(dirname "$0")/lib.sh"
pg_test

start_mock
write_config "media_store = auto"
start_imagegen
start_nginx imagegen-database.conf
run_case case-m 3 2
is "$(json .status)" completed "the case completes"
is "$(find "$T/media" -name '*.jpg' | wc -l | tr -d ' ')" 0 \
    "no picture stays in media_dir: each file was a spool until its row was written"
is "$(db "SELECT count(*), count(DISTINCT sha256), sum(CAST(length(jpeg) > 1000 AS INTEGER))
    FROM media WHERE case_id = 'case-m'")" "5|5|5" "the 5 pictures are in the database"
is "$(db "SELECT count(*) FROM images WHERE case_id = 'case-m' AND path IS NULL
    AND url = '/media/case-m/' || item_id || '.jpg'")" 5 \
    "their rows name no file, and the URLs they always had"

# Through nginx: the responder answers, the cache keeps it.
url=$(json '.evidenceImages["ev-0"]')
sha=$(db "SELECT sha256 FROM media WHERE case_id = 'case-m' AND item_id = 'ev-0'")
http GET "$url"
is "$CODE" 200 "GET $url: 200"
is "$(header Content-Type)" image/jpeg "... image/jpeg"
is "$(header ETag)" "\"$sha\"" "... its ETag is its SHA-256"
is "$(sha256sum < "$T/body" | cut -d' ' -f1)" "$sha" "... and the bytes are those"
is "$(identify -format '%m %wx%h' "$T/body" 2>/dev/null)" "JPEG 512x512" "... a 512x512 JPEG"
check "... cached a year, and immutable" sh -c "grep -qi '^Cache-Control: public, max-age=31536000, immutable' '$T/headers'"
is "$(header X-Cache-Status)" MISS "... from the responder the first time"
http GET "$url"
is "$CODE/$(header X-Cache-Status)" 200/HIT "... from nginx's cache the next"
http HEAD /media/case-m/ev-1.jpg
is "$CODE/$(header Content-Length)" \
    "200/$(db "SELECT length(jpeg) FROM media WHERE case_id = 'case-m' AND item_id = 'ev-1'")" \
    "HEAD: 200 with the picture's length"
is "$(header Content-Type)" image/jpeg "... image/jpeg"
http GET /media/case-m/ev-1.jpg -H "If-None-Match: \"$(db "SELECT sha256 FROM media
    WHERE case_id = 'case-m' AND item_id = 'ev-1'")\""
is "$CODE" 304 "If-None-Match with its ETag: 304"
http GET /media/case-m/ev-9.jpg
is "$CODE/$(json .error)" "404/Not found" "a picture that is not there: 404 in JSON"
http GET /media/case-m/../ev-0.jpg
is "$CODE" 404 "a path that is no case and item: 404"

# The responder itself, as CGI: its own 304, without nginx's cache.
cgi_get() {	# cgi_get PATH [IF-NONE-MATCH]: the CGI answer's head, in $T/cgi.head
	env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI="$1" \
	    ${2:+HTTP_IF_NONE_MATCH="$2"} IMAGEGEN_CONFIG="$T/imagegen.conf" "$IMAGEGEN" \
	    > "$T/cgi.out" 2>>"$T/imagegen.log"
	sed '/^\r\{0,1\}$/q' "$T/cgi.out" > "$T/cgi.head"
}
cgi_get /media/case-m/ev-0.jpg "\"$sha\""
check "the responder answers 304 to its ETag" grep -q '^Status: 304' "$T/cgi.head"
cgi_get /media/case-m/ev-0.jpg "\"0000\""
check "... and 200 to another" grep -q '^Status: 200' "$T/cgi.head"

# image_urls = data: the status answer inlines the pictures, from the database.
set_config "image_urls = data"
kill "$IMAGEGEN_PID"; wait_for 10 exited "$IMAGEGEN_PID"; rm -f "$T/imagegen.sock"
start_imagegen
http GET /api/case-images/case-m
jcheck "image_urls = data: every picture of the status answer is a data: URL" \
    '[.evidenceImages[], .locationImages[]] | length == 5 and all(startswith("data:image/jpeg;base64,"))'
is "$(json '.evidenceImages["ev-0"]' | sed 's/^data:image\/jpeg;base64,//' | base64 -d | sha256sum | cut -d' ' -f1)" \
    "$sha" "... the picture of the database"

done_testing
