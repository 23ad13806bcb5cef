#!/bin/sh
# Fencing: a host frozen (SIGSTOP, its responder and its worker) past
# stale_after, with two requests out. Another host resumes the job, with
# its claim's epoch; the first, thawed (SIGCONT), stops at its next write:
# it stores nothing, and makes no paid call more. Only the two calls it
# had out are paid twice.
. "$(dirname "$0")/lib.sh"
pg_test
. "$top_srcdir/t/hosts.sh"

start_mock --gate "$T/gate" --size 600
start_hosts 2 1 "concurrency = 2" "stale_after = 5" "heartbeat_interval = 1" \
    "reap_interval = 1"
stats() { curl -s -m 5 "$MOCK_URL/_stats" | jq -r ".$1"; }
make_case case-f 4 2 "" ev-0=gate=1 ev-1=gate=1 ev-2=gate=2 ev-3=gate=2 loc-0=gate=2 loc-1=gate=2
post_json /api/generate-case-images "$T/case-f.json"
out() { [ "$(stats inflight)" = 2 ] && [ -n "$(db "SELECT host_id FROM jobs WHERE case_id = 'case-f'
    AND status = 'generating'")" ]; }
check "the worker has its two requests out" wait_for 30 out
host=$(db "SELECT host_id FROM jobs WHERE case_id = 'case-f'")
worker=$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-f'")
epoch=$(db "SELECT epoch FROM jobs WHERE case_id = 'case-f'")
frozen=$(host_pids "${host#h}")
kill -STOP $frozen
taken() { [ "$(db "SELECT host_id <> '$host' AND epoch > $epoch FROM jobs
    WHERE case_id = 'case-f'")" = t ]; }
check "the other host resumes the job once the lease runs out" wait_for 60 taken
other=$(db "SELECT host_id FROM jobs WHERE case_id = 'case-f'")
check "... and its worker asks again for what was out" wait_for 30 sh -c \
    "[ \$(curl -s '$MOCK_URL/_stats' | jq -r .requests) = 4 ]"
touch "$T/gate.1" "$T/gate.2"
check "the case completes, on $other" wait_final case-f 60
asked=$(stats requests)
thawed=$(($(date +%s%N) / 1000000))
kill -CONT $frozen
check "the thawed worker stops" wait_for 30 exited "$worker"
check "... saying the job was taken from it" \
    grep -q "imagegen\\[$worker\\] error: case case-f: the job was taken by another worker" \
    "$T/$host/imagegen.log"
is "$(stats requests)" "$asked" "it made no paid call after it was thawed"
is "$(db "SELECT count(*) FROM media WHERE case_id = 'case-f' AND created_at >= $thawed")" 0 \
    "it stored no picture"
is "$(db "SELECT status || ' ' || completed_images || ' ' || host_id FROM jobs
    WHERE case_id = 'case-f'")" "completed 6 $other" "the job is as its new worker left it"
is "$(jq -r 'select(.prompt != null) | .prompt' "$T/mock.log" | sort | uniq -d | wc -l | tr -d ' ')" 2 \
    "only the two calls it had out were paid twice"
is "$(bad_pictures "case_id = 'case-f'")" 0 "every picture is a whole 512x512 JPEG"

done_testing
