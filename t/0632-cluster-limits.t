#!/bin/sh
# Six processes on one PostgreSQL (three hosts, two responders each, and
# the workers they start): the limits are the cluster's. rate_limit = 60:
# the provider never sees more than 60 calls in any 60 s; max_inflight =
# 4: never more than 4 at once. No job is claimed twice, and each image is
# asked for once.
. "$(dirname "$0")/lib.sh"
pg_test
. "$top_srcdir/t/hosts.sh"

start_mock --latency 0.3 --size 600
start_hosts 3 2 "rate_limit = 60" "max_inflight = 4" "concurrency = 3"
is "$(responders_alive)" 6 "six responders, on three hosts"
submit_cases 8 9 1
all_final() { [ "$(db "SELECT count(*) FROM jobs WHERE status = 'completed'")" = 8 ]; }
check "the 8 cases (80 images) complete" wait_for 240 all_final
"$PYTHON3" - "$T/mock.log" > "$T/limits" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
recs = [r for r in recs if r.get("prompt")]
starts = sorted(r["t_start"] for r in recs)
most, j = 0, 0
for i, t in enumerate(starts):
    while starts[j] <= t - 60.0:
        j += 1
    most = max(most, i - j + 1)
# Out of flight when the answer began to go back (t_sent): t_end comes after
# the write, when the client may already have freed its slot and sent another.
spans = sorted([(r["t_start"], 1) for r in recs] +
               [(r.get("t_sent") or r["t_end"], -1) for r in recs],
               key=lambda e: (e[0], e[1]))
now = peak = 0
for _, d in spans:
    now += d
    peak = max(peak, now)
print(len(recs), most, peak, round(starts[-1] - starts[0], 1))
PY
read -r calls window peak span < "$T/limits"
diag "$calls calls over $span s: at most $window in 60 s, $peak at once"
is "$calls" 80 "80 calls in all"
check "never more than 60 in any 60 s ($window)" test "$window" -le 60
check "... and the limit held them back: the calls took more than a minute ($span s)" \
    awk -v s="$span" 'BEGIN { exit !(s > 60) }'
check "never more than max_inflight = 4 at once ($peak)" test "$peak" -le 4
is "$(jq -r 'select(.prompt != null) | .prompt' "$T/mock.log" | sort | uniq -d | wc -l | tr -d ' ')" 0 \
    "each image asked for once"
is "$(cat "$T"/h*/imagegen.log | grep -o 'case case-[0-9]*: worker started' | sort | uniq -d | wc -l | tr -d ' ')" 0 \
    "no job was claimed twice"

done_testing
