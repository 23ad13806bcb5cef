#!/bin/sh
# The case page in a real browser (Debian's chromium over the DevTools
# protocol), through nginx and imagegen with the mock image API: a running
# 14-image case shows placeholders, then the pictures as they land, and
# ends "14 / 14", completed, with 14 loaded 512x512 pictures; a name that
# is HTML shows as text; the page fits 360 px; pictures open full size;
# polling stops at the end. Screenshots land in t/screenshots/.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/browser.sh"

# One worker at a time, held by a blocker: the case waits queued, and the
# page shows its 14 placeholders before any picture can land. The browser
# script cancels the blocker once it has seen them. One request at a time,
# 0.8 s each: the pictures land one by one over some 12 s.
MOCK_ARGS="--latency 0.8" start_stack "max_inflight = 1"
make_case blocker 1 1 "" ev-0=hang=300
post_json /api/generate-case-images "$T/blocker.json"
check "the blocker runs" wait_for 20 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT status FROM jobs WHERE case_id = 'blocker'\")\" = generating ]"
"$PYTHON3" - > "$T/case-web.json" <<'PY'
import json
ev = [{"id": f"ev-{i}", "name": f"Evidence {i}", "description": f"Evidence number {i}"}
      for i in range(10)]
ev[3]["name"] = "<img src=x onerror=alert(1)>"
ev[3]["description"] = "<script>alert(2)</script> found under the <b>desk</b>"
loc = [{"id": f"loc-{i}", "name": f"Location {i}", "description": f"Location number {i}"}
       for i in range(4)]
print(json.dumps({"caseId": "case-web", "evidence": ev, "locations": loc}))
PY

http GET /cases/case-web
is "$CODE" 200 "nginx serves the case page at /cases/{caseId}"
is "$(header Content-Type)" "text/html; charset=utf-8" "... as HTML"
csp=$(header Content-Security-Policy)
case $csp in
*"script-src 'self'"*"style-src 'self'"*"img-src 'self'"*) ok 0 "a Content-Security-Policy allows same-origin scripts, styles and images" ;;
*) ok 1 "a Content-Security-Policy allows same-origin scripts, styles and images"; diag "$csp" ;;
esac
case $csp in
*unsafe*|*data:*|*http*) ok 1 "... and nothing inline, data: or from another host" ;;
*) ok 0 "... and nothing inline, data: or from another host" ;;
esac
is "$(header X-Content-Type-Options)" nosniff "X-Content-Type-Options: nosniff"
http GET /cases/assets/case.js
is "$(header Content-Type)" "text/javascript; charset=utf-8" "the script is served as JavaScript"
http GET '/cases/bad%20id'
is "$CODE" 404 "a path that is no case id is 404"
http GET /cases
is "$CODE" 301 "/cases redirects"
is "$(header Location)" "$BASE/cases/" "... to /cases/, the jobs page"
http GET /cases/
is "$CODE" 200 "the jobs page is served"
for p in /cases/case.html /cases/assets/nosuch.js /cases/assets/../../etc/passwd; do
	http GET "$p"
	is "$CODE" 404 "$p is 404: only the pages and their assets are served"
done
check "no file in www/ has inline handlers or builds HTML from strings" \
    sh -c "! grep -nE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|\son[a-z]+=|style=' '$top_srcdir'/www/*.html '$top_srcdir'/www/assets/*.js"

post_json /api/generate-case-images "$T/case-web.json"
is "$CODE" 202 "the 14-image case is accepted"
is "$(json .status)" pending "... and waits queued behind the blocker"
browser_run case.js 150

is "$(job_status case-web)" completed "the job is completed in the store too"
done_testing
