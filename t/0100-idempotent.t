#!/bin/sh
# Submitting the same case twice returns the existing job: no second worker,
# no duplicate image; the same caseId with different input is a 409.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 0.3" start_stack
make_case case-same 3 2
post_json /api/generate-case-images "$T/case-same.json"
is "$CODE" 202 "the first submission is accepted"
post_json /api/generate-case-images "$T/case-same.json"
is "$CODE" 200 "the same input again returns the existing job"
is "$(json .caseId)/$(json .totalImages)" case-same/5 "... with its caseId and totalImages"
check "... and its current status ($(json .status))" test -n "$(json .status)"

# Reordered keys are the same input.
jq -c '{locations, evidence, caseId}' "$T/case-same.json" > "$T/reordered.json"
post_json /api/generate-case-images "$T/reordered.json"
is "$CODE" 200 "the same input with keys reordered is the same job"

jq -c '.evidence[0].description = "changed"' "$T/case-same.json" > "$T/changed.json"
post_json /api/generate-case-images "$T/changed.json"
is "$CODE" 409 "the same caseId with different input is 409"
is "$(json .field)" caseId "... naming caseId"

check "the job finishes" wait_final case-same 30
post_json /api/generate-case-images "$T/case-same.json"
is "$CODE/$(json .status)" 200/completed "a resubmission after the end reports completed"
sleep 1
is "$(wc -l < "$T/mock.log")" 5 "the image API was called once per image, no more"
is "$(db "SELECT count(*) FROM images")" 5 "one row per image"
is "$(grep -c 'worker started' "$T/imagegen.log")" 1 "one worker ran"

# Ten identical submissions at once still make one job and one worker.
make_case case-race 2 1
curls=
for i in 1 2 3 4 5 6 7 8 9 10; do
	curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' -H "Authorization: Bearer $API_TOKEN" \
	    --data-binary "@$T/case-race.json" "$BASE/api/generate-case-images" >> "$T/codes" &
	curls="$curls $!"
done
wait $curls
is "$(sort "$T/codes" | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')" "200x9 202x1 " \
    "ten concurrent submissions: one 202, nine 200"
check "the raced job finishes" wait_final case-race 30
is "$(grep -c 'case case-race: worker started' "$T/imagegen.log")" 1 "one worker for the raced job"

done_testing
