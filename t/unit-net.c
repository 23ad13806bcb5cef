/*
 * unit-net.c: C unit tests of what decides where imagegen connects: the
 * special-purpose address table against the IANA registries, URLs judged
 * by their parts against allowlists (urlmatch.c), and the image URLs a
 * progress update may report (imageurl.c). Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "imageurl.h"
#include "ssrf.h"
#include "tap.h"
#include "urlmatch.h"

/*
 * Every entry of the IANA IPv4 and IPv6 Special-Purpose Address
 * Registries (as of 2025), by its first and last address, with its
 * "Globally Reachable" column: 0 private (refused), 1 public. "N/A" and
 * the deprecated ranges are refused. Then what is not in the registries:
 * multicast, the embedded IPv4 forms, and ordinary public addresses.
 */
static const struct { const char *addr; int reachable; const char *what; } registry[] = {
	{ "0.0.0.0", 0, "0.0.0.0/8 this network" },
	{ "0.255.255.255", 0, "0.0.0.0/8 this network, last" },
	{ "10.0.0.0", 0, "10.0.0.0/8 private-use" },
	{ "10.255.255.255", 0, "10.0.0.0/8 private-use, last" },
	{ "100.64.0.0", 0, "100.64.0.0/10 shared address space" },
	{ "100.127.255.255", 0, "100.64.0.0/10 shared address space, last" },
	{ "127.0.0.1", 0, "127.0.0.0/8 loopback" },
	{ "127.255.255.254", 0, "127.0.0.0/8 loopback, last" },
	{ "169.254.0.0", 0, "169.254.0.0/16 link-local" },
	{ "169.254.169.254", 0, "169.254.0.0/16 link-local (cloud metadata)" },
	{ "172.16.0.0", 0, "172.16.0.0/12 private-use" },
	{ "172.31.255.255", 0, "172.16.0.0/12 private-use, last" },
	{ "192.0.0.0", 0, "192.0.0.0/24 IETF protocol assignments" },
	{ "192.0.0.7", 0, "192.0.0.0/29 IPv4 service continuity prefix" },
	{ "192.0.0.8", 0, "192.0.0.8/32 IPv4 dummy address" },
	{ "192.0.0.9", 1, "192.0.0.9/32 Port Control Protocol anycast" },
	{ "192.0.0.10", 1, "192.0.0.10/32 TURN anycast" },
	{ "192.0.0.170", 0, "192.0.0.170/32 NAT64/DNS64 discovery" },
	{ "192.0.0.171", 0, "192.0.0.171/32 NAT64/DNS64 discovery" },
	{ "192.0.0.255", 0, "192.0.0.0/24 IETF protocol assignments, last" },
	{ "192.0.2.0", 0, "192.0.2.0/24 documentation (TEST-NET-1)" },
	{ "192.0.2.255", 0, "192.0.2.0/24 documentation (TEST-NET-1), last" },
	{ "192.31.196.1", 1, "192.31.196.0/24 AS112-v4" },
	{ "192.52.193.1", 1, "192.52.193.0/24 AMT" },
	{ "192.88.99.1", 0, "192.88.99.0/24 deprecated 6to4 relay anycast" },
	{ "192.168.0.0", 0, "192.168.0.0/16 private-use" },
	{ "192.168.255.255", 0, "192.168.0.0/16 private-use, last" },
	{ "192.175.48.1", 1, "192.175.48.0/24 direct delegation AS112" },
	{ "198.18.0.0", 0, "198.18.0.0/15 benchmarking" },
	{ "198.18.0.1", 0, "198.18.0.0/15 benchmarking" },
	{ "198.19.255.255", 0, "198.18.0.0/15 benchmarking, last" },
	{ "198.51.100.0", 0, "198.51.100.0/24 documentation (TEST-NET-2)" },
	{ "198.51.100.255", 0, "198.51.100.0/24 documentation (TEST-NET-2), last" },
	{ "203.0.113.0", 0, "203.0.113.0/24 documentation (TEST-NET-3)" },
	{ "203.0.113.255", 0, "203.0.113.0/24 documentation (TEST-NET-3), last" },
	{ "240.0.0.0", 0, "240.0.0.0/4 reserved" },
	{ "255.255.255.254", 0, "240.0.0.0/4 reserved, last" },
	{ "255.255.255.255", 0, "255.255.255.255/32 limited broadcast" },
	{ "224.0.0.1", 0, "224.0.0.0/4 multicast" },
	{ "239.255.255.255", 0, "224.0.0.0/4 multicast, last" },
	{ "1.1.1.1", 1, "public IPv4" },
	{ "8.8.8.8", 1, "public IPv4" },
	{ "9.255.255.255", 1, "public, just below 10/8" },
	{ "11.0.0.0", 1, "public, just above 10/8" },
	{ "100.63.255.255", 1, "public, just below 100.64/10" },
	{ "100.128.0.0", 1, "public, just above 100.64/10" },
	{ "172.15.255.255", 1, "public, just below 172.16/12" },
	{ "172.32.0.0", 1, "public, just above 172.16/12" },
	{ "192.0.1.0", 1, "public, between 192.0.0/24 and 192.0.2/24" },
	{ "198.17.255.255", 1, "public, just below 198.18/15" },
	{ "198.20.0.0", 1, "public, just above 198.18/15" },
	{ "223.255.255.255", 1, "public, just below multicast" },

	{ "[::1]", 0, "::1/128 loopback" },
	{ "[::]", 0, "::/128 unspecified" },
	{ "[::ffff:127.0.0.1]", 0, "::ffff:0:0/96 IPv4-mapped, of loopback" },
	{ "[::ffff:10.1.2.3]", 0, "::ffff:0:0/96 IPv4-mapped, of private-use" },
	{ "[::ffff:198.18.0.1]", 0, "::ffff:0:0/96 IPv4-mapped, of benchmarking" },
	{ "[::ffff:8.8.8.8]", 1, "::ffff:0:0/96 IPv4-mapped, of a public address" },
	{ "[::127.0.0.1]", 0, "::/96 IPv4-compatible (deprecated), of loopback" },
	{ "[::8.8.8.8]", 0, "::/96 IPv4-compatible (deprecated), of a public address" },
	{ "[64:ff9b::a00:1]", 0, "64:ff9b::/96 NAT64, of 10.0.0.1" },
	{ "[64:ff9b::7f00:1]", 0, "64:ff9b::/96 NAT64, of 127.0.0.1" },
	{ "[64:ff9b::c000:201]", 0, "64:ff9b::/96 NAT64, of TEST-NET-1" },
	{ "[64:ff9b::808:808]", 1, "64:ff9b::/96 NAT64, of 8.8.8.8" },
	{ "[64:ff9b:1::1]", 0, "64:ff9b:1::/48 IPv4-IPv6 translation, local use" },
	{ "[100::]", 0, "100::/64 discard-only" },
	{ "[100::ffff:ffff:ffff:ffff]", 0, "100::/64 discard-only, last" },
	{ "[100:0:0:1::1]", 0, "100:0:0:1::/64 dummy prefix" },
	{ "[2001::1]", 0, "2001::/32 Teredo" },
	{ "[2001:0:4136:e378:8000:63bf:3fff:fdd2]", 0, "2001::/32 Teredo" },
	{ "[2001:1ff:ffff::1]", 0, "2001::/23 IETF protocol assignments, last /32" },
	{ "[2001:1::1]", 1, "2001:1::1/128 Port Control Protocol anycast" },
	{ "[2001:1::2]", 1, "2001:1::2/128 TURN anycast" },
	{ "[2001:1::3]", 1, "2001:1::3/128 DNS-SD SRP anycast" },
	{ "[2001:1::4]", 0, "2001::/23 IETF protocol assignments, beside the anycasts" },
	{ "[2001:2::1]", 0, "2001:2::/48 benchmarking" },
	{ "[2001:3::1]", 1, "2001:3::/32 AMT" },
	{ "[2001:4:112::1]", 1, "2001:4:112::/48 AS112-v6" },
	{ "[2001:10::1]", 0, "2001:10::/28 deprecated ORCHID" },
	{ "[2001:20::1]", 1, "2001:20::/28 ORCHIDv2" },
	{ "[2001:30::1]", 1, "2001:30::/28 drone remote ID entity tags" },
	{ "[2001:db8::1]", 0, "2001:db8::/32 documentation" },
	{ "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]", 0, "2001:db8::/32 documentation, last" },
	{ "[2002:a00:1::1]", 0, "2002::/16 6to4, of 10.0.0.1" },
	{ "[2002:7f00:1::1]", 0, "2002::/16 6to4, of 127.0.0.1" },
	{ "[2002:808:808::1]", 1, "2002::/16 6to4, of 8.8.8.8" },
	{ "[2620:4f:8000::1]", 1, "2620:4f:8000::/48 direct delegation AS112" },
	{ "[3fff::1]", 0, "3fff::/20 documentation" },
	{ "[3fff:fff:ffff::1]", 0, "3fff::/20 documentation, last" },
	{ "[5f00::1]", 0, "5f00::/16 segment routing SIDs" },
	{ "[fc00::1]", 0, "fc00::/7 unique-local" },
	{ "[fdff:ffff::1]", 0, "fc00::/7 unique-local, last" },
	{ "[fe80::1]", 0, "fe80::/10 link-local" },
	{ "[febf::1]", 0, "fe80::/10 link-local, last" },
	{ "[fec0::1]", 0, "fec0::/10 site-local (deprecated), outside 2000::/3" },
	{ "[ff02::1]", 0, "ff00::/8 multicast" },
	{ "[4000::1]", 0, "unassigned, outside 2000::/3" },
	{ "[2001:4860:4860::8888]", 1, "public IPv6" },
	{ "[2a00:1450:4001::1]", 1, "public IPv6" },
	{ "[2001:200::1]", 1, "public, just above 2001::/23" },
	{ "[3ffe::1]", 1, "public, just below 3fff::/20" },

	{ "localhost", 0, "localhost" },
	{ "LocalHost", 0, "localhost in capitals" },
	{ "a.localhost", 0, "a name under .localhost" },
	{ "game.example", 1, "a name: judged at connect, after DNS" },
};

static void
test_special_purpose(void)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		ok(ssrf_host_private(registry[i].addr) == !registry[i].reachable,
		    "%s is %s (%s)", registry[i].addr, registry[i].reachable ? "public" :
		    "refused", registry[i].what);
}

/* The allowlist of the probes, and URLs judged against it. */
static void
test_allowlist(void)
{
	static const char *list = "http://127.0.0.1:35877 https://game.example.com "
	    "https://hooks.example/game/ https://one.example/exact";
	static const struct { const char *url; int allowed; } cases[] = {
		{ "http://127.0.0.1:35877/hook", 1 },
		{ "http://127.0.0.1:35877", 1 },
		{ "http://127.0.0.1:35877@127.0.0.2:45865/", 0 },
		{ "http://127.0.0.1:3587/hook", 0 },
		{ "http://127.0.0.1:358770/hook", 0 },
		{ "https://127.0.0.1:35877/hook", 0 },
		{ "http://127.0.0.2:35877/hook", 0 },
		{ "https://game.example.com/any/path?q=1", 1 },
		{ "https://GAME.example.com/x", 1 },
		{ "https://game.example.com:443/x", 1 },
		{ "https://game.example.com:8443/x", 0 },
		{ "http://game.example.com/x", 0 },
		{ "https://game.example.com@attacker.net/", 0 },
		{ "https://game.example.com.attacker.net/", 0 },
		{ "https://user:pw@game.example.com/", 0 },
		{ "https://game.example.co/", 0 },
		{ "https://hooks.example/game/hook", 1 },
		{ "https://hooks.example/game/", 1 },
		{ "https://hooks.example/game", 0 },
		{ "https://hooks.example/gamex/hook", 0 },
		{ "https://hooks.example/game/../admin", 0 },
		{ "https://hooks.example/game/%2e%2e/admin", 0 },
		{ "https://hooks.example/game/%2F..%2Fadmin", 0 },
		{ "https://hooks.example/", 0 },
		{ "https://one.example/exact", 1 },
		{ "https://one.example/exactly", 0 },
		{ "https://one.example/exact/more", 0 },
		{ "ftp://game.example.com/", 0 },
		{ "not a url", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(urlmatch_allowed(list, cases[i].url) == cases[i].allowed, "allowlist: %s is %s",
		    cases[i].url, cases[i].allowed ? "allowed" : "refused");
	ok(urlmatch_userinfo("https://a@b.example/") && urlmatch_userinfo("https://:p@b.example/")
	    && !urlmatch_userinfo("https://b.example/a@b"), "userinfo is found where libcurl finds it");
}

/*
 * Verdicts are remembered by URL (urlmatch.c): each must still be the
 * one its own list and its own question give, whatever was asked before.
 */
static void
test_memo(void)
{
	static const char *const lists[] = { "https://cdn.example/img/", "https://other.example",
	    "https://cdn.example/" };
	const char *url = "https://cdn.example/img/x.jpg", *dotted = "https://cdn.example/img/./x.jpg";
	char many[64], lng[400];
	int wrong = 0;
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 3; i++)
			wrong += urlmatch_allowed_as_is(lists[i], url) != (i != 1);
	ok(wrong == 0, "memo: one URL against three lists in turn gets each list's verdict");
	ok(urlmatch_allowed(lists[0], dotted) && !urlmatch_allowed_as_is(lists[0], dotted) &&
	    urlmatch_allowed(lists[0], dotted),
	    "memo: a URL libcurl rewrites is allowed, but not as it is, asked in turn");
	wrong = 0;
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 600; i++) {
			snprintf(many, sizeof(many), "https://cdn.example/%s/%d.jpg",
			    i % 2 ? "img" : "raw", (i * 7 + round * 3) % 600);
			wrong += urlmatch_allowed_as_is(lists[0], many) !=
			    (strstr(many, "/img/") != NULL);
		}
	ok(wrong == 0, "memo: 600 URLs, twice, in different orders, each judged right");
	snprintf(lng, sizeof(lng), "https://cdn.example/img/%0300d.jpg", 7);
	ok(urlmatch_allowed_as_is(lists[0], lng) && urlmatch_allowed_as_is(lists[0], lng) &&
	    !urlmatch_allowed_as_is(lists[1], lng), "memo: a URL too long to remember is judged");
}

static void
test_lists(void)
{
	char err[512];
	static const struct { const char *list; int valid; } lists[] = {
		{ "", 1 },
		{ "https://a.example http://b.example:8080/x/ https://c.example/hook", 1 },
		{ "http://127.0.0.1:", 0 },		/* an empty port was "any port" once */
		{ "https://u@a.example/", 0 },
		{ "https://a.example/?q", 0 },
		{ "https://a.example/#f", 0 },
		{ "ftp://a.example/", 0 },
		{ "https:///", 0 },
		{ "a.example", 0 },
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		ok((urlmatch_list_valid(lists[i].list, err, sizeof(err)) == 0) == lists[i].valid,
		    "allowlist \"%s\" is %s", lists[i].list, lists[i].valid ? "valid" : "refused");
	ok(urlmatch_list_valid("https://a.example http://127.0.0.1:", err, sizeof(err)) != 0 &&
	    strstr(err, "http://127.0.0.1:") != NULL, "the bad entry is named: %s", err);
}

/* Provider URLs from the config, parsed the same way. */
static void
test_config_urls(void)
{
	static const struct { const char *key, *value; int valid; } cases[] = {
		{ "gemini_url", "https://generativelanguage.googleapis.com", 1 },
		{ "gemini_url", "https://generativelanguage.googleapis.com@evil.example", 0 },
		{ "openai_url", "https://key:secret@api.openai.com", 0 },
		{ "openai_url", "https://api.openai.com/?x=1", 0 },
		{ "openai_url", "http://127.0.0.1:", 0 },
		{ "openai_url", "ftp://api.openai.com", 0 },
		{ "image_url_allow", "", 1 },
		{ "webhook_allow", "http://127.0.0.1:", 1 },	/* checked at load, with both lists */
	};
	struct config cfg;
	char err[256];
	config_defaults(&cfg);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok((config_parse(&cfg, cases[i].key, cases[i].value, err, sizeof(err)) == 0) ==
		    cases[i].valid, "config: %s = %s is %s", cases[i].key, cases[i].value,
		    cases[i].valid ? "taken" : "refused");
	config_free(&cfg);
}

static int
load_with(const char *line, char *err, size_t errlen)
{
	char path[] = "/tmp/unit-net-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL)
		return -2;
	fprintf(f, "%s\n", line);
	fclose(f);
	struct config cfg;
	int rc = config_load(&cfg, path, err, errlen);
	config_free(&cfg);
	unlink(path);
	return rc;
}

static void
test_config_lists(void)
{
	char err[1024];
	ok(load_with("webhook_allow = http://127.0.0.1:", err, sizeof(err)) == -1 &&
	    strstr(err, "webhook_allow") != NULL, "config: webhook_allow's empty port stops "
	    "start-up: %s", err);
	ok(load_with("image_url_allow = https://cdn.example@evil.example/", err, sizeof(err)) ==
	    -1 && strstr(err, "image_url_allow") != NULL, "config: image_url_allow's userinfo "
	    "stops start-up");
	ok(load_with("webhook_allow = https://game.example https://hooks.example/g/", err,
	    sizeof(err)) == 0, "config: origins and path prefixes are taken");
}

static void
test_image_urls(void)
{
	struct config cfg;
	char err[256];
	config_defaults(&cfg);
	free(cfg.image_url_allow);
	cfg.image_url_allow = strdup("https://cdn.example/img/ https://pics.example");
	static const struct { const char *url; enum imageurl want; } cases[] = {
		{ "/media/c-1/ev-0.jpg", IMAGEURL_MEDIA },
		{ "/media/c-1/ev-0-0123abcdef.jpg", IMAGEURL_MEDIA },
		{ "/media/c-2/ev-0.jpg", IMAGEURL_BAD },
		{ "/media/c-1/../c-2/ev-0.jpg", IMAGEURL_BAD },
		{ "/media/c-1/ev-0.png", IMAGEURL_BAD },
		{ "https://cdn.example.evil/img/x.jpg", IMAGEURL_BAD },
		{ "https://cdn.example/img/x y.jpg", IMAGEURL_BAD },
		{ "javascript:alert(1)//https://cdn.example/img/", IMAGEURL_BAD },
		{ "data:image/png;base64,AAAA", IMAGEURL_DATA },
		{ "data:image/png;base64,AAA", IMAGEURL_BAD },
		{ "data:image/svg+xml;base64,AAAA", IMAGEURL_BAD },
		{ "data:image/png;base64,AA=A", IMAGEURL_BAD },
		{ "https://cdn.example/img/x.jpg", IMAGEURL_REMOTE },
		{ "https://pics.example/any/x.jpg", IMAGEURL_REMOTE },
		{ "https://cdn.example@evil.example/img/x.jpg", IMAGEURL_BAD },
		{ "https://cdn.example/img@evil.example/x.jpg", IMAGEURL_BAD },
		{ "https://pics.example.evil.example/x.jpg", IMAGEURL_BAD },
		{ "https://cdn.example/img/%2e%2e/x.jpg", IMAGEURL_BAD },
		{ "https://cdn.example/imgx/x.jpg", IMAGEURL_BAD },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(imageurl_check(&cfg, "c-1", cases[i].url, err, sizeof(err)) == cases[i].want,
		    "image URL %s is %s", cases[i].url, cases[i].want == IMAGEURL_BAD ? "refused"
		    : "taken");
	config_free(&cfg);
}

int
main(void)
{
	test_special_purpose();
	test_allowlist();
	test_memo();
	test_lists();
	test_config_urls();
	test_config_lists();
	test_image_urls();
	return done_testing();
}
