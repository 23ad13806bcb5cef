# database.awk: the site for media_store = database (the default with a
# PostgreSQL database), from the site nginx/imagegen.conf: the pictures
# come from the responders, which read them from the database, through a
# cache of nginx's, instead of from media_dir. Everything else is the same.
BEGIN { replaced = 0 }
NR == 1 {
	print "# imagegen(8) behind nginx, as a FastCGI responder, with the pictures"
	print "# in the database (media_store = database in imagegen.conf): made from"
	print "# imagegen.conf by nginx/database.awk. Every host behind a load"
	print "# balancer serves every picture; this cache keeps the ones asked for."
	print "#"
	next
}
/^upstream imagegen_fastcgi *\{/ {
	print "# The pictures' cache: about 8,000 keys a megabyte of keys_zone. The"
	print "# directory must be nginx's (Debian: www-data)."
	print "fastcgi_cache_path /var/cache/nginx/imagegen levels=1:2 keys_zone=imagegen_media:10m"
	print "    max_size=1g inactive=7d use_temp_path=off;"
	print ""
}
/^    # The images, media_url = \/media\/\./ { skip = 1; next }
skip && /^    location \/media\/ \{/ { inblock = 1; next }
skip && inblock && /^    \}/ {
	skip = inblock = 0
	replaced = 1
	print "    # The images, media_url = /media/, from the database. imagegen answers"
	print "    # with the picture's SHA-256 as its ETag and Cache-Control immutable:"
	print "    # a picture never changes once its URL is given out. nginx keeps each"
	print "    # for a day, then revalidates it (304, a few bytes from the database)."
	print "    location /media/ {"
	print "        fastcgi_pass imagegen_fastcgi;"
	print "        fastcgi_cache imagegen_media;"
	print "        fastcgi_cache_key $request_method$request_uri;"
	print "        fastcgi_cache_valid 200 1d;"
	print "        fastcgi_cache_valid 404 1s;"
	print "        fastcgi_cache_revalidate on;"
	print "        fastcgi_cache_lock on;"
	print "        fastcgi_cache_use_stale error timeout updating http_500 http_503;"
	print "        add_header X-Cache-Status $upstream_cache_status always;"
	print "    }"
	next
}
skip { next }
{ print }
END { if (!replaced) { print "database.awk: no location /media/ to replace" > "/dev/stderr"; exit 1 } }
