#!/bin/sh
# Disk trouble: a filesystem that fills up, one almost full from the
# start, a case directory that is a file, a read-only filesystem. Each
# image that cannot be written fails with the system's reason, no partial
# or temporary file is left, the job ends (partial or failed) instead of
# hanging, and no call is paid for once there is no room for its picture
# (statvfs before each). Root writes through permissions, so the faults
# are real ones: small and read-only tmpfs mounts.
. "$(dirname "$0")/lib.sh"

MOCK_ARGS="--latency 0.05 --size 1024" start_stack
MOUNTS=
before_cleanup 'for m in $MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done'

mount_tmpfs() {	# mount_tmpfs DIR OPTIONS: a tmpfs of the case's own, or fail
	mkdir -p "$1"
	mount -t tmpfs -o "$2" tmpfs "$1" 2>/dev/null || return 1
	MOUNTS="$1 $MOUNTS"
}
errors_of() {	# the failed images' errors, one a line
	json '.images[] | select(.status == "failed") | .error' "$T/$1.status"
}
finish() {	# finish CASEID: submit, wait (bounded) for the end, keep the status
	post_json /api/generate-case-images "$T/$1.json"
	[ "$CODE" = 202 ] || diag "$1: generate answered $CODE"
	wait_final "$1" 20
	http GET "/api/case-images/$1"
	cp "$T/body" "$T/$1.status"
}

# 1. A filesystem that fills up: 160 KiB of tmpfs holds a few of the 14
# JPEGs (8-20 KB each at 512x512), not all, with room kept for an image's
# worth (96 KiB at 512x512) before each call.
make_case case-full 10 4
if mount_tmpfs "$T/media/case-full" size=160k; then
	finish case-full
	is "$(job_status case-full)" partial "a full filesystem: the job ends partial"
	done_n=$(json .completedImages "$T/case-full.status")
	failed_n=$(json .failedImages "$T/case-full.status")
	check "... some images made it ($done_n), some did not ($failed_n)" \
	    test "$done_n" -ge 1 -a "$failed_n" -ge 1 -a $((done_n + failed_n)) -eq 14
	is "$(errors_of case-full | grep -c 'No space left on device')" "$failed_n" \
	    "every failed image says: No space left on device"
	is "$(json '.failedIds | length' "$T/case-full.status")" "$failed_n" "failedIds lists them"
	is "$(json '[.images[] | select(.status == "failed") | select(.error | test("(ev|loc)-[0-9]+[.]jpg"))
	    | select(.error | contains(.id + ".jpg") | not) | .id] | join(" ")' "$T/case-full.status")" "" \
	    "no failed image names another image's file"
	is "$(ls -A "$T/media/case-full" | grep -v '\.jpg$' | wc -l)" 0 "no temporary file is left"
	is "$(ls "$T/media/case-full" | grep -c '\.jpg$')" "$done_n" "one file per completed image"
	bad=0
	for f in "$T"/media/case-full/*.jpg; do
		[ "$(identify -format '%m %w %h' "$f" 2>/dev/null)" = "JPEG 512 512" ] || bad=$((bad + 1))
	done
	is "$bad" 0 "every file is a whole 512x512 JPEG"
	check "counters match the rows" counters_match case-full
	url=$(json '[.evidenceImages[], .locationImages[]][0]' "$T/case-full.status")
	is "$(curl -s -o /dev/null -w '%{http_code}' "$BASE$url")" 200 "a completed image is served"
else
	skip 10 "cannot mount tmpfs"
fi

# 1b. Almost full from the start: 64 KiB of tmpfs takes the probe file,
# but not an image's worth. Not one call is paid for.
make_case case-almost 10 4
if mount_tmpfs "$T/media/case-almost" size=64k; then
	finish case-almost
	is "$(job_status case-almost)" failed "an almost full filesystem: the job ends failed"
	is "$(errors_of case-almost | grep -c 'No space left on device')" 14 \
	    "every image says: No space left on device"
	is "$(grep -c "of case case-almost" "$T/mock.log")" 0 "... and not one image-API call was paid for"
	check "the log says how much was free" \
	    grep -q 'case case-almost: the media directory takes no files (.* KiB and .* inodes free' "$T/imagegen.log"
	check "counters match the rows" counters_match case-almost
else
	skip 5 "cannot mount tmpfs"
fi

# 2. The case's directory is a regular file: nothing can be created in it.
make_case case-notdir 3 1
echo "not a directory" > "$T/media/case-notdir"
finish case-notdir
is "$(job_status case-notdir)" failed "a file where the case directory goes: the job ends failed"
is "$(errors_of case-notdir | grep -c 'Not a directory')" 4 "every image says: Not a directory"
is "$(cat "$T/media/case-notdir")" "not a directory" "the file is left alone"
check "counters match the rows" counters_match case-notdir

# 3. A read-only filesystem.
make_case case-ro 3 1
if mount_tmpfs "$T/media/case-ro" ro,size=64k; then
	finish case-ro
	is "$(job_status case-ro)" failed "a read-only filesystem: the job ends failed"
	is "$(errors_of case-ro | grep -c 'Read-only file system')" 4 \
	    "every image says: Read-only file system"
	check "counters match the rows" counters_match case-ro
else
	skip 3 "cannot mount tmpfs"
fi

is "$(grep -c 'image .* done' "$T/imagegen.log")" "${done_n:-0}" \
    "no image was reported done but the ones on disk"
check "the errors are logged with the case and the image" \
    grep -q 'case case-notdir: image ev-0 failed: .*Not a directory' "$T/imagegen.log"
for id in case-full case-almost case-notdir case-ro; do
	diag "$id: $(grep -c "of case $id" "$T/mock.log") image-API calls, $(ls "$T/media/$id" 2>/dev/null | grep -c '\.jpg$') images kept"
done
# A directory that takes no file is found before any paid request.
is "$(grep -c "of case case-notdir" "$T/mock.log")" 0 "an unwritable case directory costs no image-API call"
if [ -n "${done_n:-}" ]; then
	calls=$(grep -c "of case case-full" "$T/mock.log")
	kept=$(ls "$T/media/case-full" | grep -c '\.jpg$')
	check "a filling disk stops the paid requests in time: $calls calls for $kept images kept" \
	    test "$calls" -le $((kept + 1))
	is "$(grep -c "of case case-ro" "$T/mock.log")" 0 "a read-only disk costs no image-API call"
fi
err=$(errors_of case-notdir | head -1)
diag "an error as clients see it: $err"
check "the error names no server path" sh -c "! echo '$err' | grep -q '$T'"

done_testing
