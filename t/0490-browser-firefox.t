#!/bin/sh
# The pages work in Firefox too: t/0480's whole script (the token asked
# once, a partial case and its error tiles, Retry, the jobs page filtered
# and paged) in Debian's firefox-esr, driven over WebDriver BiDi.
exec env BROWSER=firefox sh "$(dirname "$0")/0480-browser-retry.t"
