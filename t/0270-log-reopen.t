#!/bin/sh
# SIGHUP reopens the log file at its configured path, as logrotate expects
# once it has moved the file away; it stops neither the responder nor a
# worker in the middle of its case.
. "$(dirname "$0")/lib.sh"

start_mock --latency 0.05 --gate "$T/gate"
write_config
start_imagegen
start_nginx
L=$T/imagegen.log

make_case case-log-1 1 1
post_json /api/generate-case-images "$T/case-log-1.json"
check "a first case completes" wait_final case-log-1 15
check "... and the log has its lines" grep -q "case case-log-1: job created" "$L"

# 1. The responder: the file moved away, then SIGHUP.
mv "$L" "$L.1"
kill -HUP "$IMAGEGEN_PID"
sleep 0.2
check "the responder lives on after SIGHUP" kill -0 "$IMAGEGEN_PID"
# ev-0 is held by the mock until the test has signalled the worker: the
# worker is mid-case however slow the machine is.
make_case case-log-2 2 1 "" ev-0=gate=1
post_json /api/generate-case-images "$T/case-log-2.json"
is "$CODE" 202 "... and answers"
check "its lines go to a new file at the configured path" \
    grep -q "case case-log-2: job created" "$L"
check "... and none to the file moved away" \
    sh -c "! grep -q 'case-log-2' '$L.1'"

# 2. A worker in the middle of its case: moved away again, SIGHUP to it.
wait_for 10 sh -c "[ \"\$('$top_srcdir/t/db' \"SELECT status FROM jobs WHERE case_id = 'case-log-2'\")\" = generating ]" ||
    bail "case-log-2 did not start"
pid=$(db "SELECT worker_pid FROM jobs WHERE case_id = 'case-log-2'")
check "... its worker has written to the new file" \
    wait_for 10 grep -q "imagegen\[$pid\] info: case case-log-2: worker started" "$L"
mv "$L" "$L.2"
kill -HUP "$pid"
check "... which lives on after SIGHUP" kill -0 "$pid"
: > "$T/gate.1"
check "a worker sent SIGHUP mid-case finishes it" wait_final case-log-2 15
is "$(job_status case-log-2)" completed "... completed"
check "... and logs its end in the file at the configured path" \
    grep -q "imagegen\[$pid\] info: case case-log-2: completed" "$L"
check "... not in the one moved away" \
    sh -c "! grep -q 'case case-log-2: completed' '$L.2'"
check "no line is torn: each starts with its time stamp" \
    sh -c "! cat '$L.1' '$L.2' '$L' | grep -v '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T' | grep -q ."

done_testing
