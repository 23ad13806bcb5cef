#!/bin/sh
# The operators' reference keeps up with the code: both man pages are clean
# mdoc, every config key imagegen knows is in imagegen.conf(5) and in the
# sample config, with the same default, and the README says what they say.
. "$(dirname "$0")/lib.sh"

for page in imagegen.8 imagegen.conf.5; do
	out=$(mandoc -Tlint -W warning "$top_srcdir/man/$page" 2>&1)
	is "$out" "" "mandoc -Tlint finds nothing in $page"
done
# What man(1) prints on a terminal 80 columns wide, as lintian checks it:
# a word too long for a line is a warning on every reading. The pages as
# written, with the default prefix's paths (a build's own prefix may be
# longer: make distcheck's is).
if command -v man >/dev/null && command -v groff >/dev/null; then
	for page in imagegen.8 imagegen.conf.5; do
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z \
		    "$top_srcdir/man/$page" 2>&1 >/dev/null)
		is "$out" "" "man --warnings shows $page at 80 columns without a warning"
	done
else
	skip 2 "no man or groff (Debian's man-db and groff-base) to render the pages"
fi

# The package's description names every provider imagegen has.
# (The store's engines have names too: store_*.c is not a provider.)
for name in $(ls "$top_srcdir"/src/*.c | grep -v '/store_' |
    xargs sed -n 's/^\t\.name = "\([a-z]*\)",$/\1/p'); do
	check "debian/control's description names the provider $name" \
	    sh -c "sed -n '/^Description:/,\$p' '$top_srcdir/debian/control' | grep -qiw '$name'"
done

# imagegen config refuses a database whose directory is missing, as the
# server would: this one's is $T, and the default is put back in the list.
printf 'log = stderr\ndatabase = %s/imagegen.db\n' "$T" > "$T/empty.conf"
env -u GEMINI_API_KEY -u OPENAI_API_KEY "$IMAGEGEN" -c "$T/empty.conf" config 2>/dev/null | grep -v '^#' |
    sed "s|^database = .*|database = /var/lib/imagegen/imagegen.db|" > "$T/keys"
check "imagegen config lists the keys" test "$(wc -l < "$T/keys")" -ge 25
while IFS= read -r line; do
	key=${line%% = *}
	value=${line#* = }
	check "imagegen.conf(5) documents $key" grep -q "^\.It Ic $key\b" "$top_srcdir/man/imagegen.conf.5"
	check "the sample config has $key = $value" grep -qxF "$(echo "# $key = $value" | sed "s/ *$//")" "$top_srcdir/etc/imagegen.conf"
done < "$T/keys"

# What the README promises, imagegen(8) says too: the 224 MiB a worker
# stays within holds for one large answer at a time, which neither calls a
# cap; and media_dir must be on a case-sensitive filesystem.
check "neither the README nor imagegen(8) calls 224 MiB a cap" \
    sh -c "! grep -qiE 'capped at 224|224.{0,6}MiB cap' '$top_srcdir/README' '$top_srcdir/man/imagegen.8'"
for doc in README man/imagegen.8 man/imagegen.conf.5 etc/imagegen.conf; do
	check "$doc says media_dir needs a case-sensitive filesystem" \
	    grep -q 'case-sensitive filesystem' "$top_srcdir/$doc"
done

# A bad config stops start-up with the file, the line and the reason.
printf '# comment\n\nconcurrency = 5\nbogus_key = 1\n' > "$T/bad.conf"
err=$("$IMAGEGEN" -c "$T/bad.conf" config 2>&1)
is "$err" "imagegen: $T/bad.conf:4: unknown key \"bogus_key\"" "an unknown key names the file and line"
printf 'concurrency = 0\n' > "$T/bad.conf"
err=$("$IMAGEGEN" -c "$T/bad.conf" config 2>&1)
is "$err" "imagegen: $T/bad.conf:1: concurrency: 0 is outside 1..64" "a bad value names the reason"
printf 'api_key = hunter2-secret\n' > "$T/key.conf"
check "the api_key never shows" sh -c "! env -u GEMINI_API_KEY -u OPENAI_API_KEY '$IMAGEGEN' -c '$T/key.conf' config | grep -q hunter2"

done_testing
