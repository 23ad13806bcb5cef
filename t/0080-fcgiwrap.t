#!/bin/sh
# The shared-host variant: nginx, fcgiwrap, imagegen as a plain CGI program.
# Generate must answer at once although its job runs for seconds: the worker
# holds nothing of the CGI's pipes.
. "$(dirname "$0")/lib.sh"

start_mock --latency 2 --hold "$T/hold"
# fcgiwrap hands a CGI only the request's parameters, so the key is in the file.
write_config "api_key = $API_KEY" "webhook_verify_secrets = $HOOK_SECRET"
start_fcgiwrap
start_nginx imagegen-cgi.conf

# The mock answers no image until $T/hold is gone: a generate that waited
# for its job would wait for ever (curl gives up after 30 s), whatever the
# machine's speed; one that does not answers while nothing can be done.
make_case case-cgi 10 4
: > "$T/hold"
t0=$(date +%s%N)
post_json /api/generate-case-images "$T/case-cgi.json"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
is "$CODE" 202 "CGI generate answers 202 ($ms ms)"
check "... while the mock holds every image: it did not wait for its job" \
    test "$CODE" = 202 -a "$(db "SELECT completed_images + failed_images FROM jobs
        WHERE case_id = 'case-cgi'")" = 0 -a ! -s "$T/mock.log"
is "$(json .totalImages)" 14 "... for 14 images"

http GET /api/case-images/case-cgi
is "$CODE" 200 "CGI status answers 200"
check "... while the job is still running ($(json .status))" \
    test "$(json .status)" = generating -o "$(json .status)" = pending
rm -f "$T/hold"

check "the job finishes" wait_final case-cgi 60
t2=$(date +%s%N)
diag "job ran $(( (t2 - t1) / 1000000 )) ms after the CGI answered in $ms ms"
check "the job took seconds, not the CGI's time" test $(( (t2 - t1) / 1000000 )) -gt 3000
http GET /api/case-images/case-cgi
is "$(json .status)/$(json .completedImages)" completed/14 "all 14 images completed"
url=$(json '.evidenceImages["ev-0"]')
curl -s -o "$T/ev0.jpg" "$BASE$url"
is "$(identify -format '%m %w %h' "$T/ev0.jpg")" "JPEG 512 512" "nginx serves the image"
etag=$(header ETag)
http GET /api/case-images/case-cgi -H "If-None-Match: $etag"
is "$CODE" 304 "ETag works through CGI too"

printf '{"caseId":"case-cgi","status":"completed","completedImages":14,"totalImages":14}' > "$T/hook.json"
post_progress "$T/hook.json"
is "$CODE" 200 "the webhook route answers a signed update through CGI"
http GET /api/generate-case-images
is "$CODE" 405 "405 through CGI"

done_testing
