#!/bin/sh
# ImageMagick hardened: only PNG, JPEG and WebP are decoded, checked by
# their magic bytes, and a decompression bomb (a small PNG declaring
# 30000x30000, 2.7 GB of pixels) fails its image at once, with no large
# allocation.
. "$(dirname "$0")/lib.sh"

start_stack "retry_attempts = 1"
make_case case-bomb 2 1 "" ev-0=bomb ev-1=notimage
post_json /api/generate-case-images "$T/case-bomb.json"
check "the job finishes" wait_final case-bomb 60
ms=$(job_ms case-bomb)	# by the store's clock, not this script's polling
check "... quickly: the bomb is refused from its header ($ms ms)" test -n "$ms" -a "${ms:-x}" -lt 3000
http GET /api/case-images/case-bomb
case $(json '.images[] | select(.id == "ev-0") | .error') in
"image too large: "*"over the 8192x8192 limit") ok 0 "the bomb fails with a clear error" ;;
*) ok 1 "the bomb fails with a clear error"; diag "$(json '.images[0].error')" ;;
esac
case $(json '.images[] | select(.id == "ev-1") | .error') in
"not a PNG, JPEG or WebP image"*) ok 0 "bytes of no allowed format are refused by their magic" ;;
*) ok 1 "bytes of no allowed format are refused by their magic" ;;
esac
is "$(json .status)/$(json .completedImages)" partial/1 "the other image is made"
rss=$(grep -o 'worker peak RSS [0-9]*' "$T/imagegen.log" | awk '{print $4}' | sort -n | tail -1)
check "the worker's peak RSS stayed small (${rss:-?} KiB)" test -n "$rss" -a "${rss:-0}" -lt 262144

done_testing
