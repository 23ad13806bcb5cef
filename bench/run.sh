#!/bin/sh
# bench/run.sh: imagegen's benchmarks, on loopback, each figure beside a
# reference measured in the same run (these machines are shared and noisy).
# Run by `make bench`, which builds bench/answer, bench/ceiling,
# bench/compress, bench/ingest and bench/spawn first; prints the table of
# bench/report.py.
#
# Environment: top_srcdir, top_builddir (as make sets them);
# BENCH_PROVIDER (gemini or openai: the wire format of the mock, default
# gemini); BENCH_SECONDS (each wrk run, default 5), BENCH_ROUNDS (of the wrk
# pairs, default 3), SCALE_CASES (100), SCALE_CAP (the host-wide
# max_inflight for the scale run, 32), CASE_RUNS (14-image cases timed, 3);
# BENCH_ENGINES (the stores the http, generate and scale parts run on, in
# turn, each against its own ceiling: "sqlite postgresql" by default; the
# PostgreSQL figures' keys start with pg_).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
. "$top_srcdir/t/stack.sh"
BENCH=$top_builddir/bench
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
SCALE_CASES=${SCALE_CASES:-100}
SCALE_CAP=${SCALE_CAP:-32}
CASE_RUNS=${CASE_RUNS:-3}
# The provider whose wire format the mock speaks: gemini (generateContent,
# the default) or openai; each answer carries the photograph.
PROVIDER=${BENCH_PROVIDER:-gemini}
RESPONDERS=$(nproc)
API_KEY=bench-key-$$
export GEMINI_API_KEY=$API_KEY OPENAI_API_KEY=$API_KEY
T=$(mktemp -d "${TMPDIR:-/tmp}/imagegen-bench.XXXXXX")
export T
R=$T/results
exited() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
. "$top_srcdir/t/pg.sh"
trap 'stop_stack; stop_pg; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
ENGINES=${BENCH_ENGINES:-sqlite postgresql}
# A connection a worker, a responder thread and a reaper: generate's 200 workers.
PG_MAX_CONNECTIONS=400
KP=	# the key prefix of the engine at hand: "" for SQLite, pg_ for PostgreSQL
put() { echo "$KP$1=$2" >> "$R"; }
keyed() { sed "s/^/$KP/" >> "$R"; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
say() { echo "bench: $*" >&2; }

# What the tests need (deps.sh), and wrk and Node.js for sharp; as root on Debian 12.
sh "$top_srcdir/deps.sh" || bail "deps.sh failed"
missing=
command -v wrk >/dev/null || missing="$missing wrk"
command -v npm >/dev/null || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
	say "installing$missing"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    $missing >/dev/null || bail "cannot install$missing"
fi
[ -d "$top_srcdir/bench/node_modules/sharp" ] ||
	(cd "$top_srcdir/bench" && npm ci --no-audit --no-fund >/dev/null 2>&1) ||
	bail "cannot install sharp from npm (bench/package-lock.json)"

# Inputs like the providers': a 1024x1024 picture of photographic content
# as a JPEG (4:4:4, quality 92: the default model, gemini-nano-banana-2.1,
# answers image/jpeg, as OpenAI's do with output_format jpeg), and the
# same as an 8-bit RGB PNG (about 1 MB, adaptive row filters), as Gemini
# 2.5 answered.
fixtures() {
	convert -seed 7 -size 1024x1024 plasma:fractal -blur 0x1 -depth 8 \
	    -type TrueColor "$T/photo.png" || bail "convert failed"
	convert "$T/photo.png" -quality 92 -sampling-factor 1x1 "$T/photo.jpg"
	put input_png_bytes "$(stat -c %s "$T/photo.png")"
	put input_jpg_bytes "$(stat -c %s "$T/photo.jpg")"
}

sampling() { identify -format '%[jpeg:sampling-factor]' "$1"; }

# 3. The image step against sharp (mozjpeg), same inputs, same run. The
# two take turns, ROUNDS times each, the first to go alternating, and each
# figure is the median of its rounds' medians: a neighbour's burst on this
# shared machine then falls on both sides, not on one.
compress_round() {	# compress_round ig|sharp KIND: ms=, bytes= of 40 images
	if [ "$1" = ig ]; then
		"$BENCH/compress" "$T/photo.$2" "$T/ig.$2.jpg" 40
	else
		node "$top_srcdir/bench/sharp.js" "$T/photo.$2" "$T/sharp.$2.jpg" 40
	fi
}
bench_compress() {
	say "compression: MagickWand against sharp, ${ROUNDS} rounds each, taking turns"
	for kind in png jpg; do
		: > "$T/ms.ig" && : > "$T/ms.sharp"
		for r in $(seq 1 "$ROUNDS"); do
			order="ig sharp"
			[ $((r % 2)) -eq 0 ] && order="sharp ig"
			for who in $order; do
				compress_round "$who" "$kind" > "$T/round.out" || bail "$who $kind failed"
				sed -n 's/^ms=//p' "$T/round.out" >> "$T/ms.$who"
				put "${who}_${kind}_bytes" "$(sed -n 's/^bytes=//p' "$T/round.out")"
			done
		done
		for who in ig sharp; do
			put "${who}_${kind}_ms" "$(median < "$T/ms.$who")"
			put "${who}_${kind}_rounds" "$(tr '\n' ' ' < "$T/ms.$who")"
			put "${who}_${kind}_sampling" "$(sampling "$T/$who.$kind.jpg")"
		done
	done
}

# A stack of its own for each part: nginx, imagegen as deployed (one
# process, `threads` at its default), the mock answering with the photograph.
stack_but_nginx() {	# stack_but_nginx "MOCK ARGS" [config lines...]
	stop_stack
	# Workers still starting have no pid in the store yet: known by their config.
	for left in $(pgrep -x imagegen); do
		{ tr '\0' '\n' < "/proc/$left/environ"; } 2>/dev/null |
		    grep -qx "IMAGEGEN_CONFIG=$T/imagegen.conf" && kill -9 "$left" 2>/dev/null
	done
	rm -rf "$T/media" "$T"/imagegen.db* "$T"/*.log "$T/mock.port" "$T/extra.conf"
	# PostgreSQL: the cluster stays, the database is made anew.
	if [ "$IMAGEGEN_TEST_DATABASE" = postgresql ] && [ -n "${PG_URI:-}" ]; then
		echo "DROP DATABASE IF EXISTS imagegen WITH (FORCE); CREATE DATABASE imagegen OWNER imagegen;" |
		    pg_super >/dev/null || bail "cannot make the database anew"
	fi
	mock_args=$1; shift
	start_mock $mock_args --image "$T/photo.${ANSWER_FORMAT:-jpg}"
	write_config "log_level = info" "provider = $PROVIDER" "$@"
	start_imagegen_pool 1
}

stack() { stack_but_nginx "$@"; start_nginx; }

worker_line() {	# the finish line a case's worker logged
	grep "case $1: [a-z]*, [0-9]* of" "$T/imagegen.log" | tail -1
}

responders_cpu_ms() {	# user + system CPU of the responders so far
	tck=$(getconf CLK_TCK)
	for p in $IMAGEGEN_PIDS; do awk '{print $14 + $15}' "/proc/$p/stat"; done |
	    awk -v t="$tck" '{s += $1} END {printf "%d", s * 1000 / t}'
}

# 1 and 2: 14-image cases against the mock's drawn latencies, the answers
# in the default model's format (JPEG), then as PNG: case{i}_ and casepng{i}_.
bench_cases() {
	for fmt in jpg png; do
		p=case
		[ "$fmt" = png ] && p=casepng
		say "case latency: $CASE_RUNS cases of 14 images, concurrency 5, $fmt answers"
		ANSWER_FORMAT=$fmt stack "--latency-min 0.5 --latency-max 1.5 --seed 1" \
		    "concurrency = 5" "max_inflight = 64"
		for i in $(seq 1 "$CASE_RUNS"); do
			case_run "$p$i" "bench-$p-$i"
		done
	done
}

case_run() {	# case_run PREFIX CASEID: one case, its figures under PREFIX_
	before=$(responders_cpu_ms)
	"$PYTHON3" "$top_srcdir/bench/client.py" case "$BASE" "$API_TOKEN" \
	    "$T/imagegen.db" "$T/mock.log" "$2" 5 > "$T/case.out" || bail "case $2 failed"
	sed "s/^/$1_/" "$T/case.out" >> "$R"
	sleep 0.3	# the worker's last log line
	after=$(responders_cpu_ms)
	line=$(worker_line "$2")
	put "$1_responder_cpu_ms" $((after - before))
	put "$1_worker_cpu_ms" "$(echo "$line" | sed -n 's/.* CPU \([0-9]*\) ms.*/\1/p')"
	put "$1_compress_cpu_ms" "$(echo "$line" | sed -n 's/.*compression \([0-9]*\) ms.*/\1/p')"
}

# 9. Taking the picture out of an answer: JSON, then base64, in src/'s
# own parsers, against the image step on the same picture.
bench_answer() {
	say "answers: parsing JSON-wrapped base64 against the image step"
	"$BENCH/answer" "$T/photo.jpg" 30 | sed 's/^/answer_/' >> "$R" || bail "bench/answer failed"
	put provider "$PROVIDER"
}

# 8. One worker's memory with 14 pictures arriving at once.
bench_memory() {
	say "memory: one case with 14 requests in flight"
	stack "--latency 1" "concurrency = 14" "max_inflight = 64"
	"$PYTHON3" "$top_srcdir/bench/client.py" case "$BASE" "$API_TOKEN" "$T/imagegen.db" \
	    "$T/mock.log" bench-memory 14 >/dev/null || bail "case bench-memory failed"
	sleep 0.3
	put memory_peak_inflight "$(curl -s "$MOCK_URL/_stats" | jq .peak_inflight)"
	put memory_rss_kib "$(worker_line bench-memory | sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p')"
}

# wrk's requests per second, after checking that the answer is the one meant.
# rate NAME WANT-CODE URL [BODY-FILE [HEADER [LUA]]]: a body makes it a POST
# (checked with that body; LUA, a wrk script, may then make each request's).
rate() {
	name=$1 want=$2 url=$3 body=${4:-} hdr=${5:-X-Bench: 1} lua=${6:-}
	if [ -n "$body" ]; then
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "$hdr" \
		    -H 'Content-Type: application/json' --data-binary "@$body" "$url")
		printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n' \
		    > "$T/post.lua"
		printf 'wrk.body = [[%s]]\n' "$(cat "$body")" >> "$T/post.lua"
		set -- -s "${lua:-$T/post.lua}"
	else
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "$hdr" "$url")
		set --
	fi
	[ "$code" = "$want" ] || { say "$url answered $code, not $want"; return 1; }
	wrk -t2 -c16 -d"${SECS}s" -H "$hdr" "$@" "$url" > "$T/wrk.out" 2>&1 ||
	    { say "wrk failed on $url"; return 1; }
	if grep -q 'Non-2xx' "$T/wrk.out"; then
		say "$url: $(grep Non-2xx "$T/wrk.out")"
		return 1
	fi
	echo "$name $(awk '/^Requests\/sec:/ {printf "%d", $2}' "$T/wrk.out")" >> "$T/rates"
}

# Jobs whose images are all pending, for updates that each bring news:
# every round has its own 4000 (56,000 updates), more than a round makes:
# news$r- for imagegen as deployed, newsp$r- for the pool of processes,
# newssql- for bench/ingest.
# Written out (sync) before any rate is measured: the flush would stall it.
news_jobs() {
	# Fresh, as a worker elsewhere keeps them: `imagegen reap` must not
	# take them for orphans and start a worker for each.
	now=$(($(date +%s) * 1000))
	for r in $(seq 1 "$ROUNDS") $(seq 1 "$ROUNDS" | sed 's/^/p/') sql; do
		j="WITH RECURSIVE j(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM j WHERE k < 3999),
		    n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 13)"
		echo "$j INSERT INTO jobs (case_id, total_images, request_hash, created_at,
		    updated_at, status) SELECT 'news$r-' || k, 14, 'bench', $now, $now,
		    'generating' FROM j;
		$j INSERT INTO images (case_id, item_id, kind, position, name, description)
		    SELECT 'news$r-' || k, 'ev-' || i, 'evidence', i, 'n', 'd' FROM j, n;"
	done | "$top_srcdir/t/db" >/dev/null || bail "cannot add the news jobs"
	[ "$IMAGEGEN_TEST_DATABASE" = postgresql ] ||
	    "$top_srcdir/t/db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	sync
	# Request n of thread t posts job n/14's first n%14+1 images: one new each time.
	cat > "$T/news.lua" <<-'LUA'
	local threads = 0
	function setup(thread) thread:set("tid", threads); threads = threads + 1 end
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	local count, prefix = 0, os.getenv("NEWS_PREFIX") or "news1-"
	function request()
	    local n = count * 2 + tid
	    count = count + 1
	    local k, i = math.floor(n / 14) % 4000, n % 14
	    local ev = {}
	    for j = 0, i do
	        ev[#ev + 1] = string.format('"ev-%d":"https://cdn.example/media/%s%d/ev-%d.jpg"',
	            j, prefix, k, j)
	    end
	    return wrk.format(nil, nil, nil, string.format('{"caseId":"%s%d","status":"generating",'
	        .. '"completedImages":%d,"totalImages":14,"evidenceImages":{%s},'
	        .. '"locationImages":{},"failedIds":[]}', prefix, k, i + 1, table.concat(ev, ",")))
	end
	LUA
}

# 4 and 5: polling and webhook ingest against the minimal responder.
bench_http() {
	say "status polling and webhook ingest, ${ROUNDS}x${SECS}s each"
	# wrk repeats one body, so the updates go unsigned (a signature would
	# add one HMAC-SHA256 over the body, and a webhook-id row, to each).
	stack_but_nginx "--latency 0.2" "concurrency = 5" "max_inflight = 64" \
	    "reap_interval = 86400" "webhook_verify = off" "image_url_allow = https://cdn.example/"
	CPORT=$(free_port) PPORT=$(free_port)
	cat > "$T/extra.conf" <<-NGINX
	server {
	    listen 127.0.0.1:$CPORT;
	    include fastcgi_params;
	    location /ceiling/ { fastcgi_pass unix:$T/ceiling.sock; }
	}
	server {
	    listen 127.0.0.1:$PPORT;
	    include fastcgi_params;
	    location / { fastcgi_pass unix:$T/procs.sock; }
	}
	NGINX
	"$SPAWN_FCGI" -F "$RESPONDERS" -P "$T/ceiling.pids" -s "$T/ceiling.sock" -- \
	    "$BENCH/ceiling" "$TEST_DATABASE" >/dev/null 2>&1 || bail "cannot start bench/ceiling"
	PIDS="$PIDS $(cat "$T/ceiling.pids")"
	# For reference, the layout before threads: a single-threaded process a CPU.
	(umask 077 && sed '/^threads/d' "$T/imagegen.conf" > "$T/procs.conf" &&
	    echo "threads = 1" >> "$T/procs.conf")
	IMAGEGEN_CONFIG=$T/procs.conf "$SPAWN_FCGI" -F "$RESPONDERS" -P "$T/procs.pids" \
	    -s "$T/procs.sock" -- "$IMAGEGEN" >/dev/null 2>&1 || bail "cannot start the pool"
	PIDS="$PIDS $(cat "$T/procs.pids")"
	news_jobs
	start_nginx
	for id in bench-poll bench-hook; do
		"$PYTHON3" "$top_srcdir/bench/client.py" case "$BASE" "$API_TOKEN" \
		    "$TEST_DATABASE" "$T/mock.log" "$id" 5 > /dev/null || bail "case $id failed"
	done
	etag=$(curl -s -D - -o /dev/null "$BASE/api/case-images/bench-poll" |
	    sed -n 's/^[Ee][Tt]ag: *\([^\r]*\).*/\1/p')
	[ -n "$etag" ] || bail "the status answer has no ETag"
	# An ImageProgressUpdate as a worker elsewhere posts it half-way: it
	# repeats every image so far, so after the first it changes only
	# updated_at, as most of a job's updates do for most of their images.
	"$PYTHON3" -c 'import json; print(json.dumps({"caseId": "bench-hook",
	    "status": "generating", "completedImages": 7, "totalImages": 14,
	    "evidenceImages": {f"ev-{i}": f"https://cdn.example/media/bench-hook/ev-{i}.jpg"
	                       for i in range(5)},
	    "locationImages": {f"loc-{i}": f"https://cdn.example/media/bench-hook/loc-{i}.jpg"
	                       for i in range(2)},
	    "failedIds": []}))' > "$T/hook.json"
	static=$(ls "$T/media/bench-poll" | head -1)
	ceiling=http://127.0.0.1:$CPORT/ceiling
	: > "$T/rates"
	for r in $(seq 1 "$ROUNDS"); do
		rate static 200 "$BASE/media/bench-poll/$static" &&
		rate ceiling_get 200 "$ceiling/bench-poll" &&
		rate status_200 200 "$BASE/api/case-images/bench-poll" &&
		rate status_304 304 "$BASE/api/case-images/bench-poll" "" "If-None-Match: $etag" &&
		rate ceiling_post 200 "$ceiling/bench-hook" "$T/hook.json" &&
		rate webhook 200 "$BASE/api/webhook/image-progress" "$T/hook.json" &&
		NEWS_PREFIX=news$r- rate ceiling_news 200 "$ceiling/bench-hook" "$T/hook.json" "" \
		    "$T/news.lua" &&
		NEWS_PREFIX=news$r- rate webhook_news 200 "$BASE/api/webhook/image-progress" \
		    "$T/hook.json" "" "$T/news.lua" &&
		NEWS_PREFIX=newsp$r- rate webhook_news_procs 200 \
		    "http://127.0.0.1:$PPORT/api/webhook/image-progress" "$T/hook.json" "" \
		    "$T/news.lua" ||
		bail "a rate could not be measured"
	done
	# The same news updates' SQL alone, in C, against the ceiling's UPDATE.
	"$BENCH/ingest" "$TEST_DATABASE" newssql- 20000 | keyed || bail "bench/ingest failed"
	for k in static ceiling_get status_200 status_304 ceiling_post webhook ceiling_news \
	    webhook_news webhook_news_procs; do
		put "rps_$k" "$(awk -v k=$k '$1 == k {print $2}' "$T/rates" | median)"
	done
}

# 6. Generate, fork included, against what a detached start costs here.
bench_generate() {
	say "generate latency: 200 cases, one every 50 ms"
	# Room for every case's worker, so that each generate starts one:
	# past max_inflight workers, a job would wait queued, with no fork.
	stack "--latency 60" "concurrency = 1" "max_inflight = 256"
	"$BENCH/spawn" 400 | keyed
	"$PYTHON3" "$top_srcdir/bench/client.py" generate "$BASE" "$API_TOKEN" 200 50 | keyed
}

# 7. Many cases at once under the host-wide cap.
bench_scale() {
	say "scale: $SCALE_CASES cases at once, 1 s latency, max_inflight $SCALE_CAP"
	stack "--latency 1" "concurrency = 5" "max_inflight = $SCALE_CAP" "job_deadline = 3600"
	put scale_cap "$SCALE_CAP"
	"$PYTHON3" "$top_srcdir/bench/client.py" scale "$BASE" "$API_TOKEN" "$TEST_DATABASE" \
	    "$SCALE_CASES" 1200 | keyed
	sleep 0.5
	put scale_api_calls "$(grep -c '"prompt": "' "$T/mock.log")"
	put scale_peak_inflight "$(curl -s "$MOCK_URL/_stats" | jq .peak_inflight)"
	put scale_files "$(find "$T/media" -name '*.jpg' | wc -l)"
	put scale_rows_completed "$("$top_srcdir/t/db" \
	    "SELECT count(*) FROM images WHERE status = 'completed'")"
	put scale_worker_rss_max_kib "$(grep -o 'peak RSS [0-9]*' "$T/imagegen.log" |
	    awk '$3 > m {m = $3} END {print m + 0}')"
	if [ "$IMAGEGEN_TEST_DATABASE" = postgresql ]; then
		put scale_db_bytes "$("$top_srcdir/t/db" "SELECT pg_database_size('imagegen')")"
	else
		"$top_srcdir/t/db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
		put scale_db_bytes "$(stat -c %s "$T/imagegen.db")"
	fi
}

: > "$R"
put date "$(date -u +%Y-%m-%dT%H:%MZ)"
put machine "$(nproc) CPUs, $(awk '/MemTotal/ {printf "%d GiB", $2 / 1048576}' /proc/meminfo), $(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -1)"
fixtures
# The parts that measure the store run on each engine in turn.
IMAGEGEN_TEST_DATABASE=sqlite
export IMAGEGEN_TEST_DATABASE
for part in ${BENCH_PARTS:-compress answer cases memory http generate scale}; do
	case $part in
	http|generate|scale)
		for engine in $ENGINES; do
			IMAGEGEN_TEST_DATABASE=$engine KP=
			[ "$engine" = postgresql ] && KP=pg_
			say "$part, on $engine"
			"bench_$part"
		done
		IMAGEGEN_TEST_DATABASE=sqlite KP= ;;
	*)	"bench_$part" ;;
	esac
done
"$PYTHON3" "$top_srcdir/bench/report.py" "$R"
