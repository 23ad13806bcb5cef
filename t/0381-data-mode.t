#!/bin/sh
# image_urls = data on a 200-image case: each update carries every picture
# made so far, inline, so that a receiver that replaces its maps with each
# update's (the reference design's) ends with every image; but the case
# sends only its start, a progress at each quarter and its final, so its
# webhook bytes stay within 3x its final update; delivered rows keep each
# picture's URL, not its data; and the database grows by a few KB an image.
. "$(dirname "$0")/lib.sh"

start_receiver
MOCK_ARGS="--latency 0.02 --size 512" start_stack "image_urls = data" "max_items = 200" \
    "concurrency = 8" "job_deadline = 600"
q() { db "$1"; }
used() {	# bytes of the database's pages in use, its WAL checkpointed
	q "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	q "SELECT (p.page_count - f.freelist_count) * s.page_size
	    FROM pragma_page_count() p, pragma_freelist_count() f, pragma_page_size() s"
}
before=$(used)

make_case big 150 50 "$HOOK_URL"
post_json /api/generate-case-images "$T/big.json"
is "$CODE" 202 "a 200-image case in data mode is accepted"
check "it completes" wait_final big 300
is "$(job_status big)" completed "... with every image"
settled() {
	[ "$(q "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'big' AND status = 'pending'")" = 0 ]
}
check "its webhooks settle" wait_for 60 settled

# What the receiver got, in order.
jq -c 'select(.json.caseId == "big") | {s: .json.status, n: (.raw | length),
    e: (.json.evidenceImages | length), l: (.json.locationImages | length)}' \
    "$T/hook.log" > "$T/posts"
posts=$(wc -l < "$T/posts")
final=$(jq -s 'map(select(.s == "completed")) | last | .n' "$T/posts")
total=$(jq -s 'map(.n) | add' "$T/posts")
progress=$((posts - 2))	# but its start and its final
diag "$posts posts, $progress progress, final $final bytes, $total bytes in all ($(awk "BEGIN {printf \"%.2f\", $total / $final}")x)"
check "a progress update at most each quarter: $progress" test "$progress" -le 3
check "the case's webhooks took at most 3x its final update: $total bytes for $final" \
    test "$total" -le $((3 * final))
# The reference's receiver replaces its maps with each update's.
"$PYTHON3" - "$T/hook.log" > "$T/replayed" <<-'PY'
import json, sys
maps = {"evidenceImages": {}, "locationImages": {}}
for line in open(sys.argv[1]):
    u = json.loads(line)["json"]
    if u.get("caseId") != "big":
        continue
    for k in maps:
        maps[k] = u.get(k, {})
urls = list(maps["evidenceImages"].values()) + list(maps["locationImages"].values())
print(len(urls), sum(1 for v in urls if v.startswith("data:image/jpeg;base64,")))
PY
is "$(cat "$T/replayed")" "200 200" "a receiver that replaces its maps ends with all 200 pictures, inline"

# The rows keep what an operator needs, not the pictures.
is "$(q "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'big' AND payload LIKE '%data:%'")" 0 \
    "no delivered or superseded row keeps a picture's data"
ev7=$(on_pg && echo "CAST(payload AS json) #>> '{evidenceImages,ev-7}'" ||
    echo "json_extract(payload, '\$.evidenceImages.\"ev-7\"')")
is "$(q "SELECT $ev7 FROM webhook_deliveries WHERE case_id = 'big' AND event = 'final'")" \
    /media/big/ev-7.jpg "... each picture is its URL there"
largest=$(q "SELECT max(length(payload)) FROM webhook_deliveries WHERE case_id = 'big'")
check "the largest row keeps $largest bytes" test "$largest" -le 32768
after=$(used)
per=$(( (after - before) / 200 ))
diag "database: $before bytes in use before, $after after: $per bytes an image"
check "the database grew by $per bytes an image, at most 4 KB" test "$per" -le 4096

# The status route carries every picture inline too: documented per image.
http GET /api/case-images/big
jpegs=$(cat "$T"/media/big/*.jpg | wc -c)
diag "status: $(wc -c < "$T/body") bytes for 200 pictures of $jpegs bytes on disk"
check "the status answer is about 4/3 of the pictures' bytes, plus its fields" \
    test "$(wc -c < "$T/body")" -le $((jpegs * 4 / 3 + 200 * 400))

done_testing
