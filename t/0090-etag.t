#!/bin/sh
# The status route's ETag: a poll with If-None-Match costs a 304 while
# nothing changes, and any change (even one made in sqlite3) ends that.
. "$(dirname "$0")/lib.sh"

start_stack
make_case case-tag 2 1
post_json /api/generate-case-images "$T/case-tag.json"
check "the job finishes" wait_final case-tag 30

http GET /api/case-images/case-tag
is "$CODE" 200 "status is 200"
etag=$(header ETag)
check "an ETag is sent ($etag)" test -n "$etag"
is "$(header Cache-Control)" no-cache "clients revalidate every poll"
http GET /api/case-images/case-tag -H "If-None-Match: $etag"
is "$CODE" 304 "If-None-Match with the current tag is 304"
is "$(cat "$T/body" 2>/dev/null | wc -c)" 0 "... with no body"
is "$(header ETag)" "$etag" "... and the same ETag"
http GET /api/case-images/case-tag -H "If-None-Match: \"other\", $etag"
is "$CODE" 304 "a list of tags that includes it is 304"
http GET /api/case-images/case-tag -H 'If-None-Match: "0p"'
is "$CODE" 200 "a stale tag gets the full job"
http HEAD /api/case-images/case-tag
is "$CODE" 200 "HEAD is answered"
is "$(header ETag)" "$etag" "HEAD carries the ETag"

http GET /api/case-images/case-tag
cp "$T/body" "$T/first"
http GET /api/case-images/case-tag
check "polled again, the answer (kept by the responder) is the same" cmp -s "$T/first" "$T/body"
is "$(tail -c 1 "$T/first" | od -An -c | tr -d ' ')/$(tail -c 1 "$T/body" | od -An -c | tr -d ' ')" \
    '\n/\n' "the answer ends in a newline, rendered and kept alike"

db "UPDATE images SET last_error = 'checked by hand' WHERE item_id = 'ev-0'"
http GET /api/case-images/case-tag -H "If-None-Match: $etag"
is "$CODE" 200 "a repair made in sqlite3 changes the ETag"
check "the new ETag differs" test "$(header ETag)" != "$etag"
is "$(json '.images[] | select(.id == "ev-0") | .error')" "checked by hand" \
    "... and the answer shows the repair, not the answer kept before it"

# An operator deletes a job and its id comes back with other content:
# neither a kept answer nor a client's old tag may stand for the new job.
make_case case-again 1 1
post_json /api/generate-case-images "$T/case-again.json"
check "a second job finishes" wait_final case-again 30
http GET /api/case-images/case-again
old_etag=$(header ETag)
db "PRAGMA foreign_keys = ON; DELETE FROM jobs WHERE case_id = 'case-again'"
make_case case-again 2 1
post_json /api/generate-case-images "$T/case-again.json"
is "$CODE" 202 "the deleted job's id is accepted again"
check "... and its new job finishes" wait_final case-again 30
# The worst case: the new job reaches the very version the old tag names.
old_version=$(echo "$old_etag" | sed 's/^"\([0-9]*\)-.*/\1/')
db "UPDATE jobs SET version = $old_version WHERE case_id = 'case-again'"
http GET /api/case-images/case-again -H "If-None-Match: $old_etag"
is "$CODE" 200 "the old job's tag does not match the new job, even at the same version"
is "$(json .totalImages)" 3 "the answer is the new job's (3 images, not 2)"

http GET /api/case-images/nosuch -H "If-None-Match: $etag"
is "$CODE" 404 "an unknown case is 404, tag or no tag"
is "$(json .error)" "Job not found" "... with a JSON error"

# data: URLs as the reference returned them, under their own ETag.
set_config "image_urls = data"
kill "$IMAGEGEN_PID"; wait_for 5 sh -c "! kill -0 $IMAGEGEN_PID"; rm -f "$T/imagegen.sock"
start_imagegen
http GET /api/case-images/case-tag -H "If-None-Match: $etag"
is "$CODE" 200 "image_urls = data answers 200"
case $(json '.evidenceImages["ev-0"]') in
data:image/jpeg\;base64,*) ok 0 "images come back as data:image/jpeg;base64 URLs" ;;
*) ok 1 "images come back as data:image/jpeg;base64 URLs" ;;
esac
json '.evidenceImages["ev-0"]' | sed 's/^data:image\/jpeg;base64,//' | base64 -d > "$T/inline.jpg"
check "the inline image is the file on disk" cmp -s "$T/inline.jpg" "$T/media/case-tag/ev-0.jpg"

done_testing
