#!/bin/sh
# A 14-image case through nginx, the FastCGI responder, the detached worker
# and the mock Imagen API: 14 distinct 512x512 JPEGs where the status says.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 0.5 --hold $T/hold" start_stack
make_case case-ok 10 4

# The mock answers nothing while $T/hold exists: generate must answer all
# the same, however slow the machine.
: > "$T/hold"
t0=$(date +%s%N)
post_json /api/generate-case-images "$T/case-ok.json"
t1=$(date +%s%N)
is "$CODE" 202 "generate answers 202"
is "$(json .status)" pending "the job starts pending"
is "$(json .totalImages)" 14 "totalImages counts evidence and locations"
is "$(json .statusUrl)" /api/case-images/case-ok "statusUrl names the status route"
check "generate answers before any image is made ($(( (t1 - t0) / 1000000 )) ms)" \
    test "$CODE" = 202 -a ! -s "$T/mock.log" -a "$(db \
        "SELECT completed_images FROM jobs WHERE case_id = 'case-ok'")" = 0
rm -f "$T/hold"

# Poll as a client would, and keep every completedImages seen.
: > "$T/seen"
poll() {
	http GET /api/case-images/case-ok
	json .completedImages >> "$T/seen"
	case $(json .status) in completed|partial|failed) return 0 ;; esac
	sleep 0.1
	return 1
}
check "the job finishes within 30 s" wait_for 30 poll
t2=$(date +%s%N)
diag "wall time from 202 to completed: $(( (t2 - t1) / 1000000 )) ms (mock latency 500 ms, 14 images, concurrency 5)"

is "$(json .status)" completed "the job is completed"
is "$(json .completedImages)" 14 "completedImages is 14"
is "$(json .failedImages)" 0 "failedImages is 0"
is "$(json '.failedIds | length')" 0 "failedIds is empty"
is "$(json '.evidenceImages | length')" 10 "10 evidence URLs"
is "$(json '.locationImages | length')" 4 "4 location URLs"
jcheck "createdAt <= startedAt <= completedAt, in epoch ms" \
    '.createdAt > 1700000000000 and .startedAt >= .createdAt and .completedAt >= .startedAt'
jcheck "every image row is completed after one attempt" \
    '[.images[] | select(.status == "completed" and .attempts == 1)] | length == 14'
check "the evidence and locations come back as submitted" \
    sh -c "jq -e --slurpfile c '$T/case-ok.json' '.evidence == \$c[0].evidence and .locations == \$c[0].locations' '$T/body' >/dev/null"

intermediate=$(awk '$1 > 0 && $1 < 14' "$T/seen" | wc -l)
check "polls saw progress on the way ($(sort -n -u "$T/seen" | tr '\n' ' '))" test "$intermediate" -ge 1
check "completedImages never went down" sh -c "sort -n -c '$T/seen'"

# Every URL serves a distinct 512x512 JPEG through nginx.
json '.evidenceImages[], .locationImages[]' > "$T/urls"
n=0; good=0
while read -r url; do
	n=$((n + 1))
	curl -s -o "$T/img-$n.jpg" "$BASE$url"
	[ "$(identify -format '%m %w %h' "$T/img-$n.jpg" 2>/dev/null)" = "JPEG 512 512" ] && good=$((good + 1))
done < "$T/urls"
is "$good" 14 "14 URLs serve 512x512 JPEGs"
is "$(md5sum "$T"/img-*.jpg | awk '{print $1}' | sort -u | wc -l)" 14 "the 14 images are distinct"
is "$(ls "$T/media/case-ok" | wc -l)" 14 "exactly 14 files in the media directory, no temporaries"
check "metadata is stripped" sh -c "! identify -verbose '$T/img-1.jpg' | grep -qi 'exif:'"
is "$(identify -format '%[jpeg:sampling-factor]' "$T/img-1.jpg")" "2x2,1x1,1x1" "chroma is 4:2:0"
is "$(wc -l < "$T/mock.log")" 14 "the mock got exactly 14 requests"
echo partial > "$T/media/case-ok/.ev-0.jpg.4242.tmp"
is "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/media/case-ok/.ev-0.jpg.4242.tmp")" 404 \
    "nginx never serves a worker's temporary file"

done_testing
