#!/bin/sh
# fuzz/run.sh [SECONDS] [TARGET...]: build the libFuzzer harnesses with
# clang (coverage, ASan, UBSan) and run each for SECONDS (default 600) on
# its seed corpus in fuzz/corpus/TARGET; new inputs land in fuzz/out/.
# Targets: generate progress verify answer config shrink imageurl. Findings: fuzz/out/*/crash-*.
set -eu
cd "$(dirname "$0")"
secs=${1:-600}; [ $# -gt 0 ] && shift
targets=${*:-generate progress verify answer config shrink imageurl}
CC=${CC:-clang}
flags="-g -O1 -std=c11 -D_GNU_SOURCE -DPACKAGE_VERSION=\"fuzz\" -fsanitize=fuzzer,address,undefined -I../src -Iout"
pkgs="libcjson libcurl libcrypto MagickWand libpng16 sqlite3 libpq"
mkdir -p out
sh ../sql/embed.sh migrations ../sql/[0-9]*.sql > out/migrations.h
sh ../sql/embed.sh pg_migrations ../sql/pg/schema.sql ../sql/pg/[0-9]*.sql > out/pg_migrations.h
src="../src/casereq.c ../src/codec.c ../src/config.c ../src/progress.c ../src/input.c
	../src/sign.c ../src/ssrf.c ../src/log.c ../src/shrink.c
	../src/imageurl.c ../src/decodecost.c ../src/provider.c ../src/gemini.c
	../src/openai.c ../src/google.c ../src/placeholder.c ../src/urlmatch.c
	../src/request.c ../src/store.c ../src/store_sqlite.c ../src/store_pg.c
	../src/store_health.c"
for t in $targets; do
	$CC $flags $(pkg-config --cflags $pkgs) -o "out/fuzz_$t" "fuzz_$t.c" $src \
	    $(pkg-config --libs $pkgs) -lfcgi
	mkdir -p "out/$t"
	echo "== $t: $secs s"
	# The log keeps the whole run; the summary keeps what the closing note needs.
	"./out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
	    -artifact_prefix="out/$t/" "out/$t" "corpus/$t" > "out/$t.log" 2>&1 || true
	grep -E '^(stat::number_of_executed_units|stat::peak_rss|==.*ERROR|SUMMARY)' "out/$t.log" || true
	ls out/$t/crash-* 2>/dev/null && { echo "$t: FOUND A CRASH"; exit 1; }
done
exit 0
