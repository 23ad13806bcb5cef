#!/bin/sh
# What the case page costs the server: over 30 s of a running case, one
# poll a second, never two in flight, each with If-None-Match, and 304 for
# every poll that finds nothing new; a hidden tab polls every ten seconds,
# and polls at once when it is shown again. Cancel then ends the job.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/browser.sh"

# One image at once, the other held by the mock for 60 s: the job runs
# through the whole test and its status seldom changes.
start_stack "request_timeout = 120"
make_case case-poll 1 1 "" loc-0=delay=60
post_json /api/generate-case-images "$T/case-poll.json"
is "$CODE" 202 "the case is accepted"
browser_run polling.js 100
is "$(db "SELECT count(*) FROM jobs WHERE case_id = 'case-poll'
    AND last_error = 'cancelled by request'")" 1 "the page's Cancel ended the job"
polls=$(grep -c '"GET /api/case-images/case-poll ' "$T/nginx-access.log")
diag "polls nginx saw: $polls"
done_testing
