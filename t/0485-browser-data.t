#!/bin/sh
# image_urls = data: the pictures come inline, as data: URLs. The shipped
# Content-Security-Policy refuses them, and the page says so on each tile;
# with $imagegen_img_src set to "'self' data:", as the server block's
# comment says, they show.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/t/browser.sh"

start_stack "image_urls = data"
make_case case-data 1 1
post_json /api/generate-case-images "$T/case-data.json"
check "the job finishes" wait_final case-data 30
http GET /api/case-images/case-data
case $(json '.evidenceImages["ev-0"]') in
data:image/jpeg\;base64,*) ok 0 "the status carries data: URLs" ;;
*) ok 1 "the status carries data: URLs" ;;
esac
http GET /cases/case-data
case $(header Content-Security-Policy) in
*"img-src 'self';"*) ok 0 "the shipped policy allows same-origin images only" ;;
*) ok 1 "the shipped policy allows same-origin images only" ;;
esac
DATA_IMAGES=refused browser_run data.js 60

sed -i "s|set \$imagegen_img_src \"'self'\";|set \$imagegen_img_src \"'self' data:\";|" "$T/server.conf"
kill -HUP "$(cat "$T/nginx.pid")"
csp_allows_data() {
	curl -s -D - -o /dev/null "$BASE/cases/case-data" | grep -qi "img-src 'self' data:;"
}
check "nginx, reloaded, allows data: images" wait_for 10 csp_allows_data
DATA_IMAGES=allowed browser_run data.js 60
done_testing
