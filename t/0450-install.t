#!/bin/sh
# make install puts every file where configure says, each naming
# configure's paths (another --prefix and --sysconfdir too), and never
# overwrites an existing config: the sample goes beside it. The nginx
# site as built works where it lands: a named server, on IPv4 and IPv6,
# beside a default server like Debian's, which keeps the other names; the
# location snippet works inside a server of someone else's.
. "$(dirname "$0")/lib.sh"

mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"; }
# configure's directories, expanded as make expands them.
set -- $(printf 'show-paths:\n\t@echo $(bindir) $(sysconfdir) $(datadir) $(mandir)\n' |
    mk -s -C "$top_builddir" -f Makefile -f - show-paths)
bindir=$1 sysconfdir=$2 datadir=$3 mandir=$4
D=$T/root

# 1. A fresh install.
mk -s -C "$top_builddir" install DESTDIR="$D" > "$T/install.out" 2>&1
is "$?" 0 "make install DESTDIR=..."
for f in "$bindir/imagegen" "$sysconfdir/imagegen.conf" "$sysconfdir/imagegen.conf.sample" \
    "$datadir/imagegen/nginx/imagegen.conf" "$datadir/imagegen/nginx/imagegen-cgi.conf" \
    "$datadir/imagegen/nginx/imagegen-locations.conf" "$datadir/imagegen/nginx/imagegen-database.conf" \
    "$datadir/imagegen/systemd/imagegen.service" "$datadir/imagegen/systemd/imagegen.socket" \
    "$datadir/imagegen/systemd/imagegen-reap.timer" "$datadir/imagegen/systemd/imagegen.sysusers" \
    "$datadir/imagegen/systemd/imagegen.tmpfiles" "$mandir/man8/imagegen.8" \
    "$mandir/man5/imagegen.conf.5"; do
	check "installs $f" test -s "$D$f"
done
is "$(stat -c %a "$D$sysconfdir/imagegen.conf")" 600 "the config is mode 0600 (it will hold the key)"
# What the installed man pages point an operator to is there (and a path
# of another prefix's would not be).
for f in $(grep -ohE "($datadir|/usr/share|/usr/local/share)/imagegen/[A-Za-z0-9_./-]*" \
    "$D$mandir/man8/imagegen.8" "$D$mandir/man5/imagegen.conf.5" | sed 's|[.,/]*$||' | sort -u); do
	check "the man pages name $f: it is installed" test -e "$D$f"
done
is "$(grep -rl '@[a-z]*dir@' "$D" | wc -l)" 0 "no @dir@ is left in what is installed"
is "$(sed -n 's/^ExecStart=//p' "$D$datadir/imagegen/systemd/imagegen.service")" "$bindir/imagegen" \
    "the unit runs $bindir/imagegen"
check "the site names $sysconfdir/imagegen.conf" \
    grep -q "fastcgi_param IMAGEGEN_CONFIG $sysconfdir/imagegen.conf;" "$D$datadir/imagegen/nginx/imagegen.conf"
check "the database site names $sysconfdir/imagegen.conf" grep -q \
    "fastcgi_param IMAGEGEN_CONFIG $sysconfdir/imagegen.conf;" "$D$datadir/imagegen/nginx/imagegen-database.conf"
check "the CGI site runs $bindir/imagegen" \
    grep -q "fastcgi_param SCRIPT_FILENAME $bindir/imagegen;" "$D$datadir/imagegen/nginx/imagegen-cgi.conf"
check "imagegen(8) names $sysconfdir/imagegen.conf" grep -q "^\.It Pa $sysconfdir/imagegen.conf$" \
    "$D$mandir/man8/imagegen.8"

# 2. An edited config survives the next install.
echo "api_tokens = an-operator-token-0123456789" >> "$D$sysconfdir/imagegen.conf"
cp -p "$D$sysconfdir/imagegen.conf" "$T/saved.conf"
mk -s -C "$top_builddir" install DESTDIR="$D" > "$T/install2.out" 2>&1
is "$?" 0 "make install again"
check "... leaves the edited config as it was" cmp -s "$D$sysconfdir/imagegen.conf" "$T/saved.conf"
is "$(stat -c %a "$D$sysconfdir/imagegen.conf")" 600 "... mode and all"
check "... and says so" grep -q "imagegen.conf exists: left as it is" "$T/install2.out"
check "... with the sample beside it" cmp -s "$D$sysconfdir/imagegen.conf.sample" "$top_srcdir/etc/imagegen.conf"
mk -s -C "$top_builddir" uninstall DESTDIR="$D" > "$T/uninstall.out" 2>&1
is "$(find "$D" -type f | sed "s|^$D||")" "$sysconfdir/imagegen.conf" \
    "make uninstall removes everything but the edited config"

# 3. Another prefix and sysconfdir: the templates follow (no compiling needed).
if [ -f "$top_srcdir/config.status" ]; then
	skip 6 "an in-tree build: configure refuses a second build directory"
else
	mkdir "$T/b2"
	(cd "$T/b2" && "$top_srcdir/configure" --quiet --prefix=/opt/ig --sysconfdir=/etc/ig &&
	    mk -s nginx/imagegen.conf nginx/imagegen-cgi.conf nginx/imagegen-database.conf \
	    etc/systemd/imagegen.service doc/imagegen.8 doc/imagegen.conf.5) > "$T/b2.out" 2>&1
	is "$?" 0 "configure --prefix=/opt/ig --sysconfdir=/etc/ig"
	is "$(sed -n 's/^\(ExecStart\|Environment\)=//p' "$T/b2/etc/systemd/imagegen.service" | tr '\n' ' ')" \
	    "/opt/ig/bin/imagegen IMAGEGEN_CONFIG=/etc/ig/imagegen.conf " "... the unit follows"
	check "... the site follows" grep -q "IMAGEGEN_CONFIG /etc/ig/imagegen.conf;" "$T/b2/nginx/imagegen.conf"
	check "... the CGI site follows" grep -q "SCRIPT_FILENAME /opt/ig/bin/imagegen;" "$T/b2/nginx/imagegen-cgi.conf"
	check "... the database site follows, with no /usr/local left" sh -c \
	    "grep -q 'IMAGEGEN_CONFIG /etc/ig/imagegen.conf;' '$T/b2/nginx/imagegen-database.conf' &&
	    ! grep -q /usr/local '$T/b2/nginx/imagegen-database.conf'"
	check "... the man pages follow, with no /usr/local left" sh -c \
	    "grep -q /etc/ig/imagegen.conf '$T/b2/doc/imagegen.8' && ! grep -q /usr/local '$T/b2/doc/imagegen.8' '$T/b2/doc/imagegen.conf.5'"
fi

# 4. The site where it lands: beside a default server, as on Debian.
write_config "provider = local"
start_imagegen
PORT=$(free_port)
cp /etc/nginx/fastcgi_params "$T/fastcgi_params"
ipv6=0
"$PYTHON3" -c "import socket; s=socket.socket(socket.AF_INET6); s.bind(('::1', $PORT))" 2>/dev/null && ipv6=1
site() {	# site FILE: a built nginx file, on this test's socket, config, media and port
	sed -e "s|unix:/run/imagegen/imagegen.sock|unix:$T/imagegen.sock|" \
	    -e "s|fastcgi_param IMAGEGEN_CONFIG .*;|fastcgi_param IMAGEGEN_CONFIG $T/imagegen.conf;|" \
	    -e "s|/var/lib/imagegen/media/|$T/media/|" \
	    -e "s|listen 80;|listen 127.0.0.1:$PORT;|" \
	    -e "s|listen \[::\]:80;|$([ $ipv6 = 1 ] && echo "listen [::1]:$PORT;")|" "$1"
}
site "$top_builddir/nginx/imagegen.conf" > "$T/site.conf"
PORT2=$(free_port)
{
	echo "server {"
	echo "    listen 127.0.0.1:$PORT2;"
	echo "    server_name mysite.example;"
	echo "    location / { return 200 'mine\\n'; }"
	site "$top_builddir/nginx/imagegen-locations.conf" | sed 's/^/    /'
	echo "}"
} > "$T/mine.conf"
cat > "$T/nginx.conf" <<NGINX
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
daemon off;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/nginx-body;
    fastcgi_temp_path $T/nginx-fastcgi;
    # Debian's default site, sites-enabled/default.
    server {
        listen 127.0.0.1:$PORT default_server;
        $( [ $ipv6 = 1 ] && echo "listen [::1]:$PORT default_server;" )
        server_name _;
        location / { return 404 'default site\n'; }
    }
    include $T/site.conf;
    include $T/mine.conf;
}
NGINX
out=$("$NGINX" -t -p "$T" -c "$T/nginx.conf" 2>&1)
is "$?" 0 "nginx -t: the site and the snippet load beside a default server"
check "... with no conflicting server name" sh -c "! echo '$out' | grep -q conflicting"
warned() {	# warned DESCRIPTION: nginx -t's output in $out has no [warn] line
	is "$(echo "$out" | grep -c '\[warn\]')" 0 "$1"
	echo "$out" | grep '\[warn\]' | sed 's/^/# /'
}
warned "... and no warning"
site "$top_builddir/nginx/imagegen-cgi.conf" > "$T/cgi-site.conf"
sed -e "s|include $T/site.conf;|include $T/cgi-site.conf;|" -e "\|include $T/mine.conf;|d" \
    "$T/nginx.conf" > "$T/nginx-cgi.conf"
out=$("$NGINX" -t -p "$T" -c "$T/nginx-cgi.conf" 2>&1)
is "$?" 0 "nginx -t: the CGI site loads beside a default server"
warned "... and no warning"
"$NGINX" -p "$T" -c "$T/nginx.conf" </dev/null >>"$T/nginx-error.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PORT2/" || bail "nginx did not start"

get() {	# get HOST URL: the body
	curl -s -m 10 -g -H "Host: $1" "$2"
}
# imagegen's answer for an unknown job: a JSON error, not the default site's.
ours() { get "$@" | jq -r 'has("error")' 2>/dev/null; }
is "$(ours imagegen.example "http://127.0.0.1:$PORT/api/case-images/nope")" true \
    "Host: imagegen.example reaches imagegen"
is "$(get other.example "http://127.0.0.1:$PORT/api/case-images/nope")" "default site" \
    "another name stays with the default site"
if [ $ipv6 = 1 ]; then
	is "$(ours imagegen.example "http://[::1]:$PORT/api/case-images/nope")" true \
	    "... and over IPv6 (listen [::]:80)"
else
	skip 1 "no IPv6 loopback here"
fi
make_case case-snippet 1 1
code=$(curl -s -m 30 -o "$T/body" -w '%{http_code}' -H 'Host: mysite.example' \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $API_TOKEN" \
    --data-binary "@$T/case-snippet.json" "http://127.0.0.1:$PORT2/api/generate-case-images")
is "$code" 202 "the snippet in someone's server: generate reaches imagegen"
is "$(get mysite.example "http://127.0.0.1:$PORT2/")" mine "... and the server's own / is its own"
check "... and its images are served there" wait_final case-snippet 30
url=$(db "SELECT url FROM images WHERE case_id = 'case-snippet' LIMIT 1")
is "$(curl -s -m 10 -o /dev/null -w '%{http_code} %{content_type}' -H 'Host: mysite.example' \
    "http://127.0.0.1:$PORT2$url")" "200 image/jpeg" "... at $url"

done_testing
