#!/bin/sh
# imagegen(8)'s EXAMPLES run as shown. Every command a user types there
# (a line that begins "$ ") runs, in order, in one shell, against the real
# stack set up as the README's steps leave a Debian host: the site named
# images.example.com beside a default server that takes every other name.
# curl reaches that nginx for images.example.com and localhost alike; an
# operator's placeholders are filled in (TOKEN, whsec_..., /tmp/). Where
# the page shows what a command prints, it must print that (JSON compared
# as JSON); where it shows nothing, it must succeed. The root's blocks
# (#) install and enable things host-wide: the Debian package's are the
# README's, which t/0430 and t/0435 run, and must say the same.
. "$(dirname "$0")/lib.sh"

PAGE=$top_srcdir/man/imagegen.8
mkdir "$T/ex"
# Each command in $T/ex/N.cmd, what the page shows it print in N.want.
"$PYTHON3" - "$PAGE" "$T/ex" <<'PY'
import os, re, subprocess, sys
page, out = sys.argv[1], sys.argv[2]
text = open(page).read()
examples = text[text.index("\n.Sh EXAMPLES\n"):]
examples = examples[:examples.index("\n.Sh ", 1)]
blocks = re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", examples, re.S | re.M)
def complete(cmd):
    return not cmd.endswith("\\") and subprocess.run(
        ["sh", "-n", "-c", cmd], stderr=subprocess.DEVNULL).returncode == 0
n = 0
for block in blocks:
    lines = block.replace("\\e", "\\").split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            i += 1
            continue
        cmd = lines[i][2:]
        i += 1
        while i < len(lines) and not complete(cmd):
            cmd += "\n" + lines[i]
            i += 1
        want = []
        while i < len(lines) and not lines[i].startswith(("$ ", "# ")):
            want.append(lines[i])
            i += 1
        open(os.path.join(out, "%d.cmd" % n), "w").write(cmd + "\n")
        open(os.path.join(out, "%d.want" % n), "w").write("\n".join(want).strip("\n"))
        n += 1
PY
count=$(ls "$T/ex" | grep -c '\.cmd$')
check "imagegen(8) EXAMPLES has commands to run ($count)" test "$count" -ge 8

# The Debian package's steps are the README's, word for word.
roots() {	# roots START: the page's root block with a line that starts "# START",
	# without the "# ", its continued lines joined
	awk -v first="# $1" '/^\.Bd -literal/ { inb = 1; blk = ""; next }
	    /^\.Ed/ { if (hit) { printf "%s", blk; exit } inb = 0; next }
	    inb { blk = blk $0 "\n"; if (index($0, first) == 1) hit = 1 }' "$PAGE" |
	    sed -e 's/^# //' -e 's/\\e$/\\/' | sed -e ':a' -e '/\\$/{N;s/\\\n *//;ba' -e '}'
}
is "$(roots 'apt-get install ./imagegen_*.deb')" "$(readme_block 'apt-get install ./imagegen_*.deb')" \
    "the package's steps in imagegen(8) are the README's"
start=$(readme_block "$(grep -o 'install -d -o imagegen -g imagegen /run/imagegen && spawn-fcgi.*' "$top_srcdir/README")")
check "the README gives the command that starts the responder without systemd" test -n "$start"
is "$(roots 'install -d -o imagegen -g imagegen /run/imagegen &&')" "$start" \
    "... and imagegen(8) gives the same"

# The stack, as the README's steps leave it: the site renamed, a default
# server beside it, a progress secret and a CDN prefix for the example
# that reports progress.
write_config "provider = local" "local_delay = 200" "webhook_verify_secrets = $HOOK_SECRET" \
    "image_url_allow = https://cdn.example.com/"
start_imagegen
: > "$T/extra.conf"
start_nginx
sed -i 's/server_name imagegen.example;/server_name images.example.com;/' "$T/server.conf"
cat > "$T/extra.conf" <<NGINX
server {
    listen 127.0.0.1:$PORT default_server;
    server_name _;
    location / { return 404 '<html>the default site</html>\n'; }
}
NGINX
kill -HUP "$(cat "$T/nginx.pid")"
default_site() { curl -s -m 5 -H 'Host: localhost' "$BASE/" | grep -q 'the default site'; }
wait_for 30 default_site || bail "nginx did not take the default server"

# What an operator fills in, and where curl's names lead.
curl() {
	command curl --connect-to "images.example.com:80:127.0.0.1:$PORT" \
	    --connect-to "localhost:80:127.0.0.1:$PORT" "$@"
}
imagegen() { "$IMAGEGEN" "$@"; }
fill() {
	sed -e "s|Bearer TOKEN|Bearer $API_TOKEN|" -e "s|^secret=whsec_\.\.\.$|secret=$HOOK_SECRET|" \
	    -e "s|/tmp/|$T/|g" -e "s|/usr/local/share/imagegen/prometheus/|$top_srcdir/etc/prometheus/|g" "$1"
}
same() {	# same GOT-FILE WANT-FILE: equal as JSON if the page shows JSON, else as text
	if jq -e . "$2" >/dev/null 2>&1; then
		[ "$(jq -cS . "$1" 2>/dev/null)" = "$(jq -cS . "$2")" ]
	else
		[ "$(cat "$1")" = "$(cat "$2")" ]
	fi
}

i=0
while [ "$i" -lt "$count" ]; do
	c=$T/ex/$i.cmd
	what="imagegen(8): \$ $(head -1 "$c" | cut -c1-60 | tr -d '\\')"
	case $(cat "$c") in
	promtool*) command -v promtool >/dev/null ||
	    { skip 1 "no promtool (Debian's prometheus)"; i=$((i + 1)); continue; } ;;
	# An unchanged job: the polls come once the job has ended.
	*--etag-save*) wait_final case-42 30 ;;
	esac
	fill "$c" > "$T/ex/run.sh"
	. "$T/ex/run.sh" > "$T/ex/$i.out" 2>&1
	rc=$?
	if [ -s "$T/ex/$i.want" ]; then
		same "$T/ex/$i.out" "$T/ex/$i.want"
		rc=$?
		ok $rc "$what prints what the page shows"
	else
		ok $rc "$what succeeds"
	fi
	[ $rc -eq 0 ] || { sed 's/^/#   ran: /' "$T/ex/run.sh"; sed 's/^/#   got: /' "$T/ex/$i.out" | cut -c1-200; }
	i=$((i + 1))
done
is "$(db "SELECT url FROM images WHERE case_id = 'case-42' AND item_id = 'ev-1'")" \
    /media/case-42/ev-1.jpg "the late update changed no picture the worker made"

done_testing
