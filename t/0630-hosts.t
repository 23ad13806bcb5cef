#!/bin/sh
# Three hosts (three imagegen instances, each its config, socket and
# spool) behind one nginx upstream, on one PostgreSQL: 30 cases complete;
# every image a whole 512x512 JPEG, fetched through the balancer from
# whichever host, asked of the provider once; each host made at least a
# fifth of them. No host is special: generate lands on any, and its
# worker starts there.
. "$(dirname "$0")/lib.sh"
pg_test
. "$top_srcdir/t/hosts.sh"

start_mock --latency-min 0.05 --latency-max 0.2 --size 600
start_hosts 3 1 "concurrency = 4"
submit_cases 30 10 4
all_final() { [ "$(db "SELECT count(*) FROM jobs WHERE status = 'completed'")" = 30 ]; }
check "the 30 cases complete" wait_for 180 all_final
is "$(db "SELECT sum(completed_images) FROM jobs")" 420 "... 420 images"
is "$(jq -r 'select(.prompt != null) | .prompt' "$T/mock.log" | wc -l | tr -d ' ')" 420 \
    "the provider was asked 420 times"
is "$(jq -r 'select(.prompt != null) | .prompt' "$T/mock.log" | sort | uniq -d | wc -l | tr -d ' ')" 0 \
    "... once for each image"

# Every picture through the balancer: whole, and the database's.
is "$(bad_pictures)" 0 "all 420 pictures are whole 512x512 JPEGs, through the balancer"
is "$(find "$T"/h*/media -name '*.jpg' | wc -l | tr -d ' ')" 0 "... none left in a host's spool"
for h in 1 2 3; do
	n=$(grep -c 'case case-[0-9]*: image .* done' "$T/h$h/imagegen.log")
	check "host h$h made at least a fifth of them ($n)" test "$n" -ge 84
done
is "$(db "SELECT count(DISTINCT host_id) FROM jobs")" 3 "the jobs' rows name the three hosts"

done_testing
