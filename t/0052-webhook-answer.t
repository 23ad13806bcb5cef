#!/bin/sh
# A webhook receiver's answer is read up to 64 KiB and no further: one that
# answers 1 GB costs the worker that much, not a gigabyte read for as long
# as webhook_timeout allows. The delivery still counts as delivered, by
# its status.
. "$(dirname "$0")/lib.sh"

start_receiver --answer-bytes 1073741824
start_stack "webhook_timeout = 60"
make_case case-big 2 1 "$HOOK_URL"
post_json /api/generate-case-images "$T/case-big.json"
is "$CODE" 202 "generate with the receiver's URL"
check "the job finishes" wait_final case-big 60
settled() {
	[ "$(db "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'case-big' AND status = 'pending'")" = 0 ] &&
	    [ "$(wc -l < "$T/hook.log.answers" 2>/dev/null || echo 0)" -ge 2 ]
}
check "its webhooks settle (start and final) and the receiver has logged its answers" \
    wait_for 60 settled
is "$(db "SELECT count(*) FROM webhook_deliveries WHERE case_id = 'case-big' AND status <> 'superseded' AND NOT (status = 'delivered' AND response_code = 200)")" \
    0 "each update sent is delivered, by its 200"
is "$(db "SELECT group_concat(event || ' ' || status, ', ') FROM (SELECT * FROM webhook_deliveries WHERE case_id = 'case-big' AND event IN ('start', 'final') ORDER BY id) AS d")" \
    "start delivered, final delivered" "... the start and the final among them"
# What the receiver could write before the worker hung up: the 64 KiB read,
# and what the kernel's socket buffers took (a few MiB on loopback).
most=$(jq -s 'map(.sent) | max' "$T/hook.log.answers")
check "at most 32 MiB of each 1 GiB answer left the receiver (the most: $most bytes)" \
    test "$most" -lt 33554432
check "the log says nothing of a failed delivery" sh -c "! grep -q 'webhook .* failed' '$T/imagegen.log'"

done_testing
