#!/bin/sh
# PostgreSQL restarted mid-case (pg_ctl restart -m fast), then stopped for
# 30 s mid-case: every case completes, every image whole and asked of the
# provider once by the mock's log; no paid call starts while the server is
# away, and the pictures paid for meanwhile are recorded by the worker that
# made them once it is back; requests during the outage answer 503 with
# Retry-After and a JSON error, within seconds; no process dies or stays.
. "$(dirname "$0")/lib.sh"
pg_test

start_receiver
MOCK_ARGS="--latency 0.2 --gate $T/gate" start_stack "concurrency = 4" \
    "heartbeat_interval = 1" "webhook_verify_secrets = $HOOK_SECRET"
stats() { curl -s -m 5 "$MOCK_URL/_stats" | jq -r ".$1"; }
asked() { jq -r 'select(.prompt != null) | .prompt' "$T/mock.log" | grep -c "of case $1[^A-Za-z0-9_-]"; }
asked_twice() { jq -r 'select(.prompt != null) | .prompt' "$T/mock.log" | sort | uniq -d | wc -l; }
whole() {	# whole CASE N: N pictures, each a 512x512 JPEG
	[ "$(ls "$T/media/$1"/*.jpg 2>/dev/null | wc -l)" = "$2" ] || return 1
	for f in "$T/media/$1"/*.jpg; do
		[ "$(identify -format '%m %wx%h' "$f" 2>/dev/null)" = "JPEG 512x512" ] || return 1
	done
}

# 1. A restart mid-case: ev-2..ev-5 wait at the provider (gate 1) meanwhile.
make_case case-r 7 1 "$HOOK_URL" ev-2=gate=1 ev-3=gate=1 ev-4=gate=1 ev-5=gate=1
post_json /api/generate-case-images "$T/case-r.json"
out() {	# out CASE: 2 pictures made, 4 requests held at the provider
	[ "$(stats inflight)" = 4 ] &&
	    [ "$(db "SELECT completed_images FROM jobs WHERE case_id = '$1'")" = 2 ]
}
check "case-r: 2 pictures made, 4 requests at the provider" wait_for 30 out case-r
worker=$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-r'")
pg_restart
touch "$T/gate.1"
check "case-r completes across the restart" wait_final case-r 60
is "$(db "SELECT status || ' ' || completed_images FROM jobs WHERE case_id = 'case-r'")" \
    "completed 8" "... with all 8 images"
is "$(asked case-r)/$(asked_twice)" "8/0" "the provider was asked for each image once"
check "every picture is a whole 512x512 JPEG" whole case-r 8
check "one worker made them all: the restart cost it nothing" \
    sh -c "! grep -q 'case case-r: .*resuming' '$T/imagegen.log' && grep -q 'imagegen\\[$worker\\].*case case-r: completed' '$T/imagegen.log'"

# 2. The server stopped for 30 s: 4 requests out when it goes.
make_case case-s 10 2 "$HOOK_URL" ev-2=gate=2 ev-3=gate=2 ev-4=gate=2 ev-5=gate=2
post_json /api/generate-case-images "$T/case-s.json"
check "case-s: 2 pictures made, 4 requests at the provider" wait_for 30 out case-s
worker=$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-s'")
before=$(stats requests)
pg_stop
stopped=$(date +%s)
touch "$T/gate.2"
check "the 4 pictures paid for land on disk, the server away" wait_for 30 \
    sh -c "[ \$(ls '$T/media/case-s'/*.jpg | wc -l) = 6 ]"

# Every route, through the outage: 503, Retry-After, a JSON error, at once.
make_case case-new 1 1
printf '{"caseId":"case-r","status":"completed","completedImages":8,"totalImages":8,"evidenceImages":{},"locationImages":{},"failedIds":[]}' > "$T/update.json"
: > "$T/codes"
probe() {	# probe NAME METHOD PATH [curl options]: one line in $T/codes
	name=$1; shift
	t0=$(date +%s%N)
	http "$@"
	echo "$name|$CODE|$(header Retry-After)|$(($(date +%s%N) / 1000000 - t0 / 1000000))|$(jq -r .error "$T/body" 2>/dev/null)" >> "$T/codes"
}
while [ $(($(date +%s) - stopped)) -lt 30 ]; do
	probe status GET /api/case-images/case-s
	probe generate POST /api/generate-case-images -H 'Content-Type: application/json' \
	    --data-binary "@$T/case-new.json"
	probe cancel POST /api/case-images/case-s/cancel
	probe retry POST /api/case-images/case-r/retry
	NO_AUTH=1 post_progress "$T/update.json"
	echo "progress|$CODE|$(header Retry-After)|0|$(jq -r .error "$T/body" 2>/dev/null)" >> "$T/codes"
done
is "$(cut -d'|' -f2 "$T/codes" | sort -u | tr '\n' ' ')" "503 " \
    "status, generate, cancel, retry and progress answer 503 while the server is away"
is "$(cut -d'|' -f1 "$T/codes" | sort -u | tr '\n' ' ')" "cancel generate progress retry status " \
    "... each of them, $(wc -l < "$T/codes") requests in all"
is "$(awk -F'|' '$3 == ""' "$T/codes" | wc -l | tr -d ' ')" 0 "... each with Retry-After"
is "$(cut -d'|' -f5- "$T/codes" | sort -u)" "the database is unavailable" \
    "... and the JSON error {\"error\":\"the database is unavailable\"}"
is "$(awk -F'|' '$4 > 10000' "$T/codes" | wc -l | tr -d ' ')" 0 \
    "... within 10 s each (the slowest: $(cut -d'|' -f4 "$T/codes" | sort -n | tail -1) ms)"
is "$(stats requests)" "$before" "no paid call started while the server was away"
waits() { alive "$worker" &&
    grep -q "imagegen\\[$worker\\].*case case-s: the database did not take" "$T/imagegen.log"; }
check "the worker waits, and said why" waits

pg_start
check "case-s completes once the server is back" wait_final case-s 90
is "$(db "SELECT status || ' ' || completed_images FROM jobs WHERE case_id = 'case-s'")" \
    "completed 12" "... with all 12 images"
is "$(asked case-s)/$(asked_twice)" "12/0" "the provider was asked for each image once"
check "every picture is a whole 512x512 JPEG" whole case-s 12
check "the worker that made them recorded the pictures of the outage" \
    grep -q "imagegen\\[$worker\\].*case case-s: the database answers again" "$T/imagegen.log"
is "$(grep -c 'found on disk, recorded' "$T/imagegen.log")" 0 "... none was left to adopt"
final() { jq -r "select(.json.caseId == \"$1\") | .json.status" "$T/hook.log" | tail -1; }
check "the receiver has each case's final update" \
    wait_for 30 sh -c "[ \"\$(jq -r 'select(.json.caseId == \"case-s\") | .json.status' '$T/hook.log' | tail -1)\" = completed ]"
is "$(final case-r)" completed "... case-r's too"
check "the responder lives" kill -0 "$IMAGEGEN_PID"
no_worker() { [ -z "$(own_workers)" ]; }
check "no worker stays" wait_for 30 no_worker
http GET /api/case-images/case-s
is "$CODE" 200 "status answers 200 again"

done_testing
