#!/bin/sh
# GET /api/case-images: the jobs newest first, by status, a page at a time
# through a cursor that neither repeats nor skips a job while new ones come;
# every bad parameter is a 400 naming it; status_auth = token closes it.
. "$(dirname "$0")/lib.sh"

start_stack "retry_attempts = 1"
for i in 1 2 3 4; do
	make_case "list-$i" 1 1
	post_json /api/generate-case-images "$T/list-$i.json"
done
make_case list-bad 1 1 "" ev-0=500
post_json /api/generate-case-images "$T/list-bad.json"
for c in list-1 list-2 list-3 list-4 list-bad; do
	check "job $c finishes" wait_final "$c" 30
done
newest_first=$(db "SELECT group_concat(case_id, ',') FROM
    (SELECT case_id FROM jobs ORDER BY created_at DESC, case_id DESC) AS j")

http GET /api/case-images
is "$CODE" 200 "the list answers 200"
is "$(header Content-Type)" application/json "... in JSON"
is "$(header Cache-Control)" no-cache "... revalidated by every client"
is "$(json '[.jobs[].caseId] | join(",")')" "$newest_first" "every job, newest first"
is "$(json .next)" null "one page holds them: next is null"
jcheck "a summary has the status JSON's counters and times, and its statusUrl" \
    '.jobs[] | select(.caseId == "list-bad") | .status == "partial" and .totalImages == 2
     and .completedImages == 1 and .failedImages == 1 and .retryCount == 0
     and (.createdAt | type) == "number" and .completedAt >= .startedAt
     and (.lastError | test("ev-0")) and .statusUrl == "/api/case-images/list-bad"'
jcheck "a summary has no items or images" '[.jobs[] | has("images") or has("evidence")] | any | not'

http GET '/api/case-images?status=partial'
is "$(json '[.jobs[].caseId] | join(",")')" list-bad "status=partial lists the partial job only"
http GET '/api/case-images?status=completed&limit=100'
is "$(json '.jobs | length')" 4 "status=completed lists the four others"
http GET '/api/case-images?status=%70artial'
is "$(json '[.jobs[].caseId] | join(",")')" list-bad "parameters are percent-decoded"
http GET '/api/case-images?status=generating'
is "$(jsonc .)" '{"jobs":[],"next":null}' "no job of a status: an empty page"
for q in status=queued status=cancelled; do
	http GET "/api/case-images?$q"
	is "$CODE $(jsonc .)" '200 {"jobs":[],"next":null}' "?$q: no job waits queued or was cancelled"
done
db "UPDATE jobs SET cancel_requested_at = created_at + 1
    WHERE case_id IN ('list-2', 'list-bad')"
http GET '/api/case-images?status=cancelled'
is "$(json '[.jobs[].caseId] | join(",")')" list-bad,list-2 \
    "status=cancelled lists the jobs a cancel was asked of, newest first"
jcheck "... each marked cancelled, with cancelledAt, keeping its own status" \
    '([.jobs[] | .cancelled == true and .cancelledAt > .createdAt and (has("queued") | not)]
      | all) and .jobs[0].status == "partial" and .jobs[1].status == "completed"'
http GET '/api/case-images?status=completed'
jcheck "a list of one status marks the cancelled among them" \
    '[.jobs[] | select(.cancelled) | .caseId] == ["list-2"]'
db "UPDATE jobs SET cancel_requested_at = NULL
    WHERE case_id IN ('list-2', 'list-bad')"
http GET '/api/case-images?status=&limit=&before='
is "$(json '.jobs | length')" 5 "empty parameters are the defaults"

# Pages of two, and a job created between the first page and the second.
http GET '/api/case-images?limit=2'
is "$(json '.jobs | length')" 2 "limit=2 gives two jobs"
next=$(json .next)
check "... and a cursor for the next page ($next)" test "$next" != null
seen=$(json '[.jobs[].caseId] | join(",")')
make_case list-new 1 1
post_json /api/generate-case-images "$T/list-new.json"
pages=1
while [ "$next" != null ] && [ $pages -lt 10 ]; do
	http GET "/api/case-images?limit=2&before=$next"
	seen="$seen,$(json '[.jobs[].caseId] | join(",")')"
	next=$(json .next)
	pages=$((pages + 1))
done
is "$pages" 3 "five jobs make three pages of two"
is "$seen" "$newest_first" "the pages together are every job once, in order; the new one is not in them"
http GET '/api/case-images?limit=1'
is "$(json '.jobs[0].caseId')" list-new "the first page starts with the job created since"
cursor=$(json .next)
http GET "/api/case-images?status=partial&before=$cursor"
is "$(json '[.jobs[].caseId] | join(",")')" list-bad "a cursor combines with a status"

for q in status=running status=Partial status=Queued status=cancelling limit=0 limit=101 limit=2x limit=-1 \
    before=abc before=123 before=123.bad/id 'before=1.a%00b' status=%zz unknown=1 \
    'limit=2&limit=3'; do
	http GET "/api/case-images?$q"
	is "$CODE" 400 "?$q is refused with 400"
done
http GET '/api/case-images?limit=0'
is "$(jsonc .)" '{"error":"limit must be a number from 1 to 100","field":"limit"}' \
    "the 400 names the parameter and the rule"
http GET '/api/case-images?sort=asc'
is "$(json .error)" "unknown query parameter: status, limit and before are known" \
    "an unknown parameter is named as such"

http HEAD /api/case-images
is "$CODE" 200 "HEAD is answered"
http POST /api/case-images
is "$CODE" 405 "POST is 405"
is "$(header Allow)" "GET, HEAD" "... with Allow: GET, HEAD"
NO_AUTH=1 http GET /api/case-images
is "$CODE" 200 "status_auth = public: no token needed"

set_config "status_auth = token"
kill "$IMAGEGEN_PID"; wait_for 5 sh -c "! kill -0 $IMAGEGEN_PID"; rm -f "$T/imagegen.sock"
start_imagegen
NO_AUTH=1 http GET /api/case-images
is "$CODE" 401 "status_auth = token: no token, 401"
is "$(header WWW-Authenticate)" 'Bearer realm="imagegen"' "... with a Bearer challenge"
http GET /api/case-images
is "$CODE" 200 "... and with the token, the list"

# As a plain CGI program, the query comes in QUERY_STRING alike.
env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI='/api/case-images?limit=1' \
    QUERY_STRING='status=partial&limit=1' HTTP_AUTHORIZATION="Bearer $API_TOKEN" \
    IMAGEGEN_CONFIG="$T/imagegen.conf" "$IMAGEGEN" > "$T/cgi.out"
sed '1,/^\r\{0,1\}$/d' "$T/cgi.out" > "$T/cgi.body"
is "$(jq -c '[.jobs[].caseId]' "$T/cgi.body")" '["list-bad"]' "as CGI, the list reads its query string"

# PostgreSQL plans by its statistics, and reads a table this small whole:
# with them gathered and sequential scans off, the plan shows whether the
# index can serve.
plan_of() {
	if on_pg; then db "ANALYZE jobs; SET enable_seqscan = off; EXPLAIN $1"
	else db "EXPLAIN QUERY PLAN $1"; fi
}
plan=$(plan_of "SELECT case_id FROM jobs
    WHERE status = 'partial' AND (created_at, case_id) < (1, 'x')
    ORDER BY created_at DESC, case_id DESC LIMIT 3")
case $plan in
*jobs_by_status_created*) ok 0 "a page of one status reads its index, not the table" ;;
*) ok 1 "a page of one status reads its index, not the table"; diag "$plan" ;;
esac

for f in "queued:status = 'pending' AND queued_at IS NOT NULL:jobs_by_status_created" \
    "cancelled:cancel_requested_at IS NOT NULL:jobs_cancelled_created"; do
	name=${f%%:*} index=${f##*:} where=${f#*:}; where=${where%:*}
	plan=$(plan_of "SELECT case_id FROM jobs
	    WHERE $where AND (created_at, case_id) < (1, 'x')
	    ORDER BY created_at DESC, case_id DESC LIMIT 3")
	case $plan in
	*"$index"*) ok 0 "a page of $name jobs reads $index, not the table" ;;
	*) ok 1 "a page of $name jobs reads $index, not the table"; diag "$plan" ;;
	esac
done

done_testing
