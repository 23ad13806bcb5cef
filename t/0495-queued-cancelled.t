#!/bin/sh
# "queued" and "cancelled" without leaving the reference's five statuses: a
# job waiting for a place under max_inflight has queued/queuedAt, one asked
# to cancel cancelled/cancelledAt, and the ETag moves with them; the list
# filters by both; in chromium the case page and the jobs page show them,
# each with a badge of its own. Screenshots land in t/screenshots/.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/browser.sh"

version() {	# version CASEID: the job's version column
	db "SELECT version FROM jobs WHERE case_id = '$1'"
}

# One worker at a time, held by a blocker that hangs: the next case waits queued.
start_stack "max_inflight = 1"
make_case blocker 1 1 "" ev-0=hang=300
post_json /api/generate-case-images "$T/blocker.json"
check "the blocker runs" wait_for 20 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT status FROM jobs WHERE case_id = 'blocker'\")\" = generating ]"
make_case case-queued 2 1
post_json /api/generate-case-images "$T/case-queued.json"
is "$CODE $(json .status)" "202 pending" "the next case is accepted, pending"
check "... and waits queued" wait_for 10 sh -c "[ -n \"\$('$top_srcdir/t/db' \"SELECT queued_at FROM jobs WHERE case_id = 'case-queued'\")\" ]"

http GET /api/case-images/case-queued
is "$(json .status)" pending "a queued job's status stays pending, one of the reference's five"
jcheck "it has queued: true and queuedAt, and no cancelled" \
    '.queued == true and .queuedAt >= .createdAt and (.queuedAt | type) == "number"
     and (has("cancelled") or has("cancelledAt") | not)'
etag=$(header ETag)
http GET /api/case-images/blocker
jcheck "the running blocker has neither" \
    '.status == "generating" and ([has("queued", "queuedAt", "cancelled", "cancelledAt")] | any | not)'
http GET /api/case-images/case-queued -H "If-None-Match: $etag"
is "$CODE" 304 "a poll of the queued job with its ETag is 304"
http GET '/api/case-images?status=queued'
is "$(json '[.jobs[].caseId] | join(",")')" case-queued "status=queued lists it"
jcheck "... its summary marked queued" '.jobs[0].queued == true and .jobs[0].status == "pending"'
http GET '/api/case-images?status=pending'
is "$(json '[.jobs[].caseId] | join(",")')" case-queued "status=pending lists it too"
http GET '/api/case-images?status=cancelled'
is "$(jsonc .jobs)" '[]' "status=cancelled lists none yet"

# The page shows it queued, cancels it, and shows it cancelled.
browser_run queued.js 120

http GET /api/case-images/case-queued -H "If-None-Match: $etag"
is "$CODE" 200 "once cancelled, the old ETag no longer matches"
jcheck "it ends failed, none made, lastError cancelled by request" \
    '.status == "failed" and .completedImages == 0 and .lastError == "cancelled by request"'
jcheck "... with cancelled: true and cancelledAt, and no longer queued" \
    '.cancelled == true and .cancelledAt >= .createdAt and (has("queued") or has("queuedAt") | not)'
http GET '/api/case-images?status=cancelled'
is "$(json '[.jobs[].caseId] | join(",")')" case-queued "status=cancelled lists it"
http GET '/api/case-images?status=queued'
is "$(jsonc .jobs)" '[]' "status=queued no longer does"

# The version moves when the marks do, and only then (migration 15).
v=$(version case-queued)
db "UPDATE jobs SET cancel_requested_at = cancel_requested_at WHERE case_id = 'case-queued'"
is "$(version case-queued)" "$v" "setting cancel_requested_at to itself leaves the version"
db "UPDATE jobs SET cancel_requested_at = cancel_requested_at + 1 WHERE case_id = 'case-queued'"
is "$(version case-queued)" "$((v + 1))" "a new cancel_requested_at moves it"
db "UPDATE jobs SET queued_at = 1 WHERE case_id = 'case-queued'"
is "$(version case-queued)" "$((v + 2))" "a new queued_at moves it"
http GET /api/case-images/case-queued
jcheck "a finished job with a stray queued_at is not shown queued" '(has("queued") | not) and .cancelled'
db "UPDATE jobs SET queued_at = NULL WHERE case_id = 'case-queued'"
http GET /api/case-images/case-queued
etag=$(header ETag)

# A retry clears the cancel; behind the blocker still at work, it is queued again.
http POST /api/case-images/case-queued/retry
is "$CODE" 202 "the cancelled job is retried"
check "... and waits queued again" wait_for 10 sh -c "[ -n \"\$('$top_srcdir/t/db' \"SELECT queued_at FROM jobs WHERE case_id = 'case-queued'\")\" ]"
http GET /api/case-images/case-queued -H "If-None-Match: $etag"
is "$CODE" 200 "the retried job has a new ETag"
jcheck "it is pending, queued, and no longer cancelled" \
    '.status == "pending" and .queued == true and (has("cancelled") or has("cancelledAt") | not)'

http POST /api/case-images/blocker/cancel
is "$CODE" 202 "the blocker is cancelled"
check "the blocker ends" wait_final blocker 30
check "the retried case then runs to its end" wait_final case-queued 60
http GET /api/case-images/case-queued
jcheck "completed, with neither mark" \
    '.status == "completed" and ([has("queued", "queuedAt", "cancelled", "cancelledAt")] | any | not)'
http GET '/api/case-images?status=cancelled'
is "$(json '[.jobs[].caseId] | join(",")')" blocker "status=cancelled now lists the blocker only"

done_testing
