#!/bin/sh
# The database under contention: four responders (spawn-fcgi -F 4), ten
# workers writing at once, a flood of webhook updates from five clients and
# status polls from two more, all on one SQLite file. WAL mode and the busy
# timeout must serialise them: no request fails, no write is lost.
. "$(dirname "$0")/lib.sh"

start_mock --latency 0.1 --size 512
write_config "rate_limit = 1000000" "max_inflight = 64" \
    "reap_interval = 3600" "stale_after = 3600" "heartbeat_interval = 1" \
    "webhook_verify = off" "image_url_allow = https://cdn.example/"
start_imagegen_pool 4
start_nginx

NCASES=10 NHOOK=500 NFLOOD=5 NPOLL=150

# Jobs whose local workers are killed at once: only the webhook moves them.
# Their images hang at the mock, should a reaper ever resume them.
for id in case-orph-1 case-orph-2; do
	make_case $id 2 1 "" ev-0=delay=60 ev-1=delay=60 loc-0=delay=60
	post_json /api/generate-case-images "$T/$id.json"
	wait_for 10 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT status FROM jobs WHERE case_id = '$id'\")\" = generating ]" ||
	    bail "$id did not start"
	kill_worker "$id"
done
# Eight updates, each naming 0-2 of the 3 images: the highest count is 2.
for i in 0 1 2 3 4 5 6 7; do
	id=case-orph-$((i % 2 + 1)) k=$((i % 3))
	ev='{}'
	[ $k -ge 1 ] && ev='{"ev-0":"https://cdn.example/'$id'/ev-0.jpg"}'
	[ $k -ge 2 ] && ev='{"ev-0":"https://cdn.example/'$id'/ev-0.jpg","ev-1":"https://cdn.example/'$id'/ev-1.jpg"}'
	printf '{"caseId":"%s","status":"generating","completedImages":%d,"totalImages":3,"evidenceImages":%s,"locationImages":{},"failedIds":[]}' \
	    "$id" "$k" "$ev" > "$T/upd-$i.json"
done

flood() {	# flood N TAG: N webhook updates; one HTTP code a line in $T/hook.TAG
	i=0
	while [ $i -lt "$1" ]; do
		curl -s -m 10 -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' -H "Authorization: Bearer $API_TOKEN" \
		    --data-binary "@$T/upd-$(((i + $2) % 8)).json" "$BASE/api/webhook/image-progress"
		i=$((i + 1))
	done > "$T/hook.$2"
}
# polls N TAG: status GETs in pairs, the second one conditional on the
# first one's ETag; one HTTP code a line in $T/poll.TAG
polls() {
	i=0 etag=
	while [ $i -lt "$1" ]; do
		id=case-load-$((i / 2 % NCASES + 1))
		curl -s -m 10 -D "$T/poll-h.$2" -o /dev/null -w '%{http_code}\n' \
		    ${etag:+-H "If-None-Match: $etag"} "$BASE/api/case-images/$id"
		etag=$([ $((i % 2)) -eq 0 ] && tr -d '\r' < "$T/poll-h.$2" | awk 'tolower($1) == "etag:" {print $2}')
		i=$((i + 1))
	done > "$T/poll.$2"
}

for i in $(seq 1 $NCASES); do make_case case-load-$i 10 4; done
t0=$(date +%s%N)
loops=
for tag in $(seq 1 $NFLOOD); do flood $((NHOOK / NFLOOD)) $tag & loops="$loops $!"; done
: > "$T/gen.codes"
for i in $(seq 1 $NCASES); do
	curl -s -m 10 -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' -H "Authorization: Bearer $API_TOKEN" \
	    --data-binary "@$T/case-load-$i.json" "$BASE/api/generate-case-images" >> "$T/gen.codes"
done
for tag in a b; do polls $NPOLL $tag & loops="$loops $!"; done
stuck=0
for p in $loops; do wait_exit "$p" 60 || stuck=$((stuck + 1)); done
t1=$(date +%s%N)
is "$stuck" 0 "every client loop finished"
diag "$NHOOK webhook updates, $NCASES submissions and $((2 * NPOLL)) polls in $(((t1 - t0) / 1000000)) ms"

is "$(sort "$T/gen.codes" | uniq -c | awk '{print $1 "x" $2}' | tr '\n' ' ')" "${NCASES}x202 " \
    "every submission got 202"
cat "$T"/hook.[0-9]* > "$T/hook.all"
is "$(wc -l < "$T/hook.all" | tr -d ' ')" "$NHOOK" "$NHOOK webhook updates were sent"
is "$(grep -cv '^200$' "$T/hook.all")" 0 "every webhook update got 200 ($(sort "$T/hook.all" | uniq -c | awk '{print $1 "x" $2}' | tr '\n' ' '))"
cat "$T"/poll.[ab] > "$T/poll.all"
is "$(wc -l < "$T/poll.all" | tr -d ' ')" $((2 * NPOLL)) "$((2 * NPOLL)) status polls were sent"
is "$(grep -Ecv '^(200|304)$' "$T/poll.all")" 0 "every poll got 200 or 304 ($(sort "$T/poll.all" | uniq -c | awk '{print $1 "x" $2}' | tr '\n' ' '))"
check "some polls were answered 304" grep -q '^304$' "$T/poll.all"

all_final() {
	for i in $(seq 1 $NCASES); do is_final case-load-$i || return 1; done
}
check "every job ended within 40 s" wait_for 40 all_final
bad=0
for i in $(seq 1 $NCASES); do
	id=case-load-$i
	[ "$(job_status $id)" = completed ] || { bad=$((bad + 1)); diag "$id is $(job_status $id)"; }
	counters_match $id || { bad=$((bad + 1)); diag "$id: counters do not match the rows"; }
	[ "$(ls "$T/media/$id" 2>/dev/null | grep -c '\.jpg$')" = 14 ] || { bad=$((bad + 1)); diag "$id: not 14 files"; }
done
is "$bad" 0 "every job completed, with 14 files and counters that match its rows"

for id in case-orph-1 case-orph-2; do
	http GET /api/case-images/$id
	is "$(json .status)/$(json .completedImages)" generating/2 \
	    "$id: the highest count reported stuck, whatever the order"
	is "$(json '.evidenceImages | length')" 2 "... with both evidence URLs"
done

is "$(grep -Eic 'database is locked|SQLITE_BUSY|busy' "$T/imagegen.log")" 0 \
    "no 'database is locked' or busy error in the log"
is "$(grep -c ' error: ' "$T/imagegen.log")" 0 "no error at all in the log"
is "$(awk '$9 >= 500' "$T/nginx-access.log" | wc -l | tr -d ' ')" 0 "nginx answered no 5xx"
responders=$(grep 'progress generating' "$T/imagegen.log" | sed -E 's/.*imagegen\[([0-9]+)\].*/\1/' | sort -u | wc -l)
check "the updates were served by several responders ($responders of 4)" test "$responders" -ge 2
alive=0
for p in $IMAGEGEN_PIDS; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
is "$alive" 4 "the four responders are still up"
if on_pg; then
	skip 1 "integrity_check is SQLite's"
else
	is "$(db 'PRAGMA integrity_check')" ok "the database is sound"
fi

done_testing
