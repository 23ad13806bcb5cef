#!/bin/sh
# Four injected failures of four kinds: the job ends partial, with the ten
# others done and exactly those four in failedIds, each with its reason.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 0.2" start_stack "retry_attempts = 1"
make_case case-part 10 4 "" ev-1=500x1 ev-6=notimage loc-0=empty loc-3=badbase64
post_json /api/generate-case-images "$T/case-part.json"
is "$CODE" 202 "generate answers 202"
check "the job finishes" wait_final case-part 30

http GET /api/case-images/case-part
is "$(json .status)" partial "the job is partial"
is "$(json .completedImages)" 10 "10 images completed"
is "$(json .failedImages)" 4 "4 images failed"
is "$(json '.failedIds | sort | join(",")')" "ev-1,ev-6,loc-0,loc-3" "failedIds names exactly the four"
is "$(json '.evidenceImages | keys | length')" 8 "8 evidence URLs"
is "$(json '.locationImages | keys | length')" 2 "2 location URLs"
check "lastError is set" test -n "$(json '.lastError // empty')"
is "$(json '.images[] | select(.id == "ev-1") | .error')" "HTTP 500: mock-imagen injected fault 500" \
    "an HTTP error keeps the API's message"
case $(json '.images[] | select(.id == "ev-6") | .error') in
*"not a PNG, JPEG or WebP"*) ok 0 "bytes that are not an image fail with a clear error" ;;
*) ok 1 "bytes that are not an image fail with a clear error" ;;
esac
case $(json '.images[] | select(.id == "loc-0") | .error') in
*"no candidates"*) ok 0 "an answer without candidates fails with a clear error" ;;
*) ok 1 "an answer without candidates fails with a clear error" ;;
esac
case $(json '.images[] | select(.id == "loc-3") | .error') in
*base64*) ok 0 "invalid base64 fails with a clear error" ;;
*) ok 1 "invalid base64 fails with a clear error" ;;
esac
is "$(ls "$T/media/case-part" | wc -l)" 10 "10 files written, none for the failures"
is "$(sqlite3 "$T/imagegen.db" "SELECT completed_images || '/' || failed_images FROM jobs")" \
    "10/4" "the job's counters match its rows"
is "$(sqlite3 "$T/imagegen.db" "SELECT count(*) FROM images WHERE status = 'failed' AND last_error IS NOT NULL")" \
    4 "each failed row records its error"

# The operator's repair from imagegen(8): one failed image set back to
# pending, the job re-run in the foreground; only that image is requested.
sqlite3 "$T/imagegen.db" <<'SQL'
.timeout 5000
BEGIN;
UPDATE images SET status = 'pending', last_error = NULL
 WHERE case_id = 'case-part' AND item_id = 'ev-1' AND status = 'failed';
UPDATE jobs SET status = 'pending', retry_count = retry_count + 1,
       last_error = NULL, completed_at = NULL,
       failed_images = (SELECT count(*) FROM images
                         WHERE case_id = 'case-part' AND status = 'failed')
 WHERE case_id = 'case-part' AND status IN ('partial', 'failed');
COMMIT;
SQL
before=$(wc -l < "$T/mock.log")
check "imagegen run re-runs the job in the foreground" "$IMAGEGEN" run case-part
is "$(( $(wc -l < "$T/mock.log") - before ))" 1 "only the pending image was requested again"
http GET /api/case-images/case-part
is "$(json .status)/$(json .completedImages)/$(json .retryCount)" partial/11/1 \
    "ev-1 is made; the job stays partial with its 3 other failures and counts the retry"
is "$(json '.failedIds | sort | join(",")')" "ev-6,loc-0,loc-3" "failedIds lost ev-1"
check "the re-run image is served" test -s "$T/media/case-part/ev-1.jpg"

# Every image failing makes the job failed, not partial.
make_case case-none 1 1 "" ev-0=400 loc-0=403
post_json /api/generate-case-images "$T/case-none.json"
check "the all-failing job finishes" wait_final case-none 30
http GET /api/case-images/case-none
is "$(json .status)" failed "no image at all: the job is failed"
is "$(json .completedImages)" 0 "completedImages is 0"
is "$(sqlite3 "$T/imagegen.db" "SELECT status FROM case_image_status WHERE case_id = 'case-part'")" \
    partial "the legacy view shows partial as it is"

done_testing
