# locations.awk: the location snippet, from the site nginx/imagegen.conf.
# It keeps what the site's server{} holds for imagegen, to include in a
# server{} of your own: no upstream (not allowed there, so fastcgi_pass
# names the socket), no listen or server_name, no catch-all location /.
BEGIN {
	print "# imagegen(8)'s locations, to include in a server{} you already have:"
	print "#     include snippets/imagegen.conf;"
	print "# Made from imagegen.conf, the site, by nginx/locations.awk: it sets the"
	print "# same client_max_body_size, fastcgi_params and JSON error pages for the"
	print "# whole server it is included in. Routes: imagegen(8)."
}
/^upstream imagegen_fastcgi *\{/ { upstream = 1; next }
upstream && /^ *server unix:/ { sub(/^ *server /, ""); sub(/;.*/, ""); sock = $0; next }
upstream && /^\}/ { upstream = 0; next }
/^server *\{/ { inserver = 1; next }
!inserver { next }
/^\}/ { inserver = 0; next }
/^    (listen|server_name) / { next }
/^    location \/ *\{/ { skip = 1; next }
skip { if (/^    \}/) skip = 0; next }
{ sub(/fastcgi_pass imagegen_fastcgi;/, "fastcgi_pass " sock ";"); sub(/^    /, ""); print }
