#!/bin/sh
# Hostile ids: a caseId is never read as an option (the worker's argv ends
# its options with "--", and options stop at the command), so ids that
# begin with '-' work end to end; a NUL, raw or escaped, is refused before
# it can cut an id short.
. "$(dirname "$0")/lib.sh"

# The responder, and so its workers, run in $T: "-cevilcfg" read as
# "-c evilcfg" would load this file and create what it names.
cd "$T" || bail "cd $T"
cat > "$T/evilcfg" <<CONF
database = $T/evil.db
log = $T/evil.log
media_dir = $T/evil-media
CONF
MOCK_ARGS="--latency 0.1" start_stack "retry_attempts = 1"

make_case -rf 2 1 "" ev-1=500x1
post_json /api/generate-case-images "$T/-rf.json"
is "$CODE" 202 "caseId -rf is accepted"
check "... and its job finishes" wait_final -rf 20
http GET /api/case-images/-rf
is "$CODE/$(json .caseId)/$(json .status)/$(json .completedImages)" 200/-rf/partial/2 \
    "the status of -rf: partial, 2 done, one failed as the mock was told"
http POST /api/case-images/-rf/retry
is "$CODE/$(json .retryImages)" 202/1 "retry of -rf answers 202 for its failed image"
check "... and the retried job finishes" wait_final -rf 20
is "$(job_status -rf)" completed "... completed"
http POST /api/case-images/-rf/cancel
is "$CODE" 409 "cancel of the finished -rf is 409, not a hang"

make_case -cevilcfg 1 1
post_json /api/generate-case-images "$T/-cevilcfg.json"
is "$CODE" 202 "caseId -cevilcfg is accepted"
check "... and its job finishes" wait_final -cevilcfg 20
is "$(job_status -cevilcfg)" completed "... completed, by a worker of this config"
check "no worker read ./evilcfg: no database, log or media of its naming" \
    test ! -e "$T/evil.db" -a ! -e "$T/evil.log" -a ! -e "$T/evil-media"
check "the files of -cevilcfg are in media_dir" test -s "$T/media/-cevilcfg/ev-0.jpg"

# Cancel of a running job with a '-' id ends it.
make_case -hang 1 1 "" ev-0=hang=30 loc-0=hang=30
post_json /api/generate-case-images "$T/-hang.json"
gen() { [ "$(job_status -hang)" = generating ]; }
check "-hang is generating" wait_for 10 gen
http POST /api/case-images/-hang/cancel
is "$CODE" 202 "cancel of the running -hang answers 202"
check "... and the job ends" wait_final -hang 10

# The admin commands take such ids too, with or without "--".
"$IMAGEGEN" show -rf > "$T/show.out" 2>&1
is "$?" 0 "imagegen show -rf"
check "... prints the job" grep -q '^case: *-rf$' "$T/show.out"
"$IMAGEGEN" show -- -rf > "$T/show.out" 2>&1
is "$?/$(sed -n 's/^status: *//p' "$T/show.out")" 0/completed "imagegen show -- -rf"
# run takes over a job whose worker is gone.
make_case -run 1 1 "" ev-0=hang=30 loc-0=hang=30
post_json /api/generate-case-images "$T/-run.json"
gen() { [ "$(job_status -run)" = generating ]; }
check "-run is generating" wait_for 10 gen
kill_worker -run
db "UPDATE images SET description = 'no fault' WHERE case_id = '-run'"
"$IMAGEGEN" run -- -run > "$T/run.out" 2>&1
is "$?/$(job_status -run)" 0/completed "imagegen run -- -run takes over and finishes the job"

# NUL: escaped or raw, anywhere in a string, is 400 and creates nothing.
printf '{"caseId":"nul-a\\u0000../../etc","evidence":[{"id":"e","name":"n","description":"d"}],"locations":[{"id":"l","name":"n","description":"d"}]}' > "$T/nul1.json"
post_json /api/generate-case-images "$T/nul1.json"
is "$CODE" 400 "an escaped NUL in caseId is 400"
check "... saying so" sh -c "jq -r .error '$T/body' | grep -q NUL"
printf '{"caseId":"nul-b\000x","evidence":[{"id":"e","name":"n","description":"d"}],"locations":[{"id":"l","name":"n","description":"d"}]}' > "$T/nul2.json"
post_json /api/generate-case-images "$T/nul2.json"
is "$CODE" 400 "a raw NUL in caseId is 400"
printf '{"caseId":"nul-c","evidence":[{"id":"e","name":"n\\u0000","description":"d"}],"locations":[{"id":"l","name":"n","description":"d"}]}' > "$T/nul3.json"
post_json /api/generate-case-images "$T/nul3.json"
is "$CODE" 400 "an escaped NUL in any string (a name) is 400"
printf '{"caseId":"nul-d","evidence":[{"id":"e","name":"a\\\\u0000","description":"d"}],"locations":[{"id":"l","name":"n","description":"d"}]}' > "$T/nul4.json"
post_json /api/generate-case-images "$T/nul4.json"
is "$CODE" 202 "an escaped backslash before u0000 is no NUL: 202"
check "... and that job finishes" wait_final nul-d 20
is "$(db "SELECT count(*) FROM jobs WHERE case_id IN ('nul-a', 'nul-b', 'nul-c')")" 0 \
    "no job nul-a, nul-b or nul-c was created"

done_testing
