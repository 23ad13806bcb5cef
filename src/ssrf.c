/*
 * ssrf.c: clients name the URL imagegen posts progress to, so a client
 * could aim it at the host's own network. A webhookUrl must be on
 * webhook_allow (its parts compared, urlmatch.c) or, with none set, be
 * https; and, unless webhook_private says otherwise, the address actually
 * connected to must be one the world can reach: the check runs on the
 * socket's address, after DNS, so a public name that resolves to 10.0.0.1
 * or 198.18.0.1 is refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"
#include "ssrf.h"
#include "urlmatch.h"

/*
 * The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and
 * the RFCs since), each entry with its "Globally Reachable" column: the
 * longest prefix that holds an address decides. Added: IPv4 multicast, and
 * IPv6 outside 2000::/3 (neither is unicast anyone may reach). Addresses
 * that carry an IPv4 address (IPv4-mapped, NAT64's 64:ff9b::/96, 6to4)
 * are judged by it; IPv4-compatible ones (::/96, deprecated) are refused.
 */
struct range {
	const char *prefix;
	int len;
	int reachable;
};

static const struct range v4_ranges[] = {
	{ "0.0.0.0", 8, 0 },		/* "this network" */
	{ "10.0.0.0", 8, 0 },		/* private-use */
	{ "100.64.0.0", 10, 0 },	/* shared address space (carrier-grade NAT) */
	{ "127.0.0.0", 8, 0 },		/* loopback */
	{ "169.254.0.0", 16, 0 },	/* link-local */
	{ "172.16.0.0", 12, 0 },	/* private-use */
	{ "192.0.0.0", 24, 0 },		/* IETF protocol assignments */
	{ "192.0.0.9", 32, 1 },		/* Port Control Protocol anycast */
	{ "192.0.0.10", 32, 1 },	/* TURN anycast */
	{ "192.0.2.0", 24, 0 },		/* documentation, TEST-NET-1 */
	{ "192.31.196.0", 24, 1 },	/* AS112-v4 */
	{ "192.52.193.0", 24, 1 },	/* AMT */
	{ "192.88.99.0", 24, 0 },	/* deprecated 6to4 relay anycast */
	{ "192.168.0.0", 16, 0 },	/* private-use */
	{ "192.175.48.0", 24, 1 },	/* direct delegation AS112 */
	{ "198.18.0.0", 15, 0 },	/* benchmarking */
	{ "198.51.100.0", 24, 0 },	/* documentation, TEST-NET-2 */
	{ "203.0.113.0", 24, 0 },	/* documentation, TEST-NET-3 */
	{ "224.0.0.0", 4, 0 },		/* multicast */
	{ "240.0.0.0", 4, 0 },		/* reserved, and the limited broadcast */
};

static const struct range v6_ranges[] = {
	{ "::", 0, 0 },			/* outside 2000::/3: not unicast in use */
	{ "2000::", 3, 1 },		/* global unicast */
	{ "::", 96, 0 },		/* IPv4-compatible (deprecated), :: and ::1 */
	{ "64:ff9b:1::", 48, 0 },	/* IPv4-IPv6 translation, local use */
	{ "100::", 64, 0 },		/* discard-only */
	{ "100:0:0:1::", 64, 0 },	/* dummy prefix */
	{ "2001::", 23, 0 },		/* IETF protocol assignments (Teredo too) */
	{ "2001:1::1", 128, 1 },	/* Port Control Protocol anycast */
	{ "2001:1::2", 128, 1 },	/* TURN anycast */
	{ "2001:1::3", 128, 1 },	/* DNS-SD service registration protocol anycast */
	{ "2001:2::", 48, 0 },		/* benchmarking */
	{ "2001:3::", 32, 1 },		/* AMT */
	{ "2001:4:112::", 48, 1 },	/* AS112-v6 */
	{ "2001:10::", 28, 0 },		/* deprecated ORCHID */
	{ "2001:20::", 28, 1 },		/* ORCHIDv2 */
	{ "2001:30::", 28, 1 },		/* drone remote ID entity tags */
	{ "2001:db8::", 32, 0 },	/* documentation */
	{ "2620:4f:8000::", 48, 1 },	/* direct delegation AS112 */
	{ "3fff::", 20, 0 },		/* documentation */
	{ "5f00::", 16, 0 },		/* segment routing SIDs */
	{ "fc00::", 7, 0 },		/* unique-local */
	{ "fe80::", 10, 0 },		/* link-local */
	{ "ff00::", 8, 0 },		/* multicast */
};

/* Whether the first len bits of a and b agree. */
static int
same_bits(const unsigned char *a, const unsigned char *b, int len)
{
	int whole = len / 8, rest = len % 8;
	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	return rest == 0 || ((a[whole] ^ b[whole]) & (0xFF << (8 - rest)) & 0xFF) == 0;
}

/* The reachable column of the longest entry holding addr (4 or 16 bytes); default: yes. */
static int
lookup(const struct range *t, size_t n, int family, const unsigned char *addr)
{
	unsigned char net[16];
	int best = -1, reachable = 1;
	for (size_t i = 0; i < n; i++)
		if (inet_pton(family, t[i].prefix, net) == 1 && t[i].len > best &&
		    same_bits(net, addr, t[i].len)) {
			best = t[i].len;
			reachable = t[i].reachable;
		}
	return reachable;
}

static int
v4_private(const unsigned char *a)
{
	return !lookup(v4_ranges, sizeof(v4_ranges) / sizeof(v4_ranges[0]), AF_INET, a);
}

static int
v6_private(const unsigned char *b)
{
	static const unsigned char mapped[12] = { [10] = 0xFF, [11] = 0xFF };
	static const unsigned char nat64[12] = { 0, 0x64, 0xFF, 0x9B };
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
		return v4_private(b + 12);
	if (b[0] == 0x20 && b[1] == 0x02)	/* 6to4: 2002:AABB:CCDD::/48 */
		return v4_private(b + 2);
	return !lookup(v6_ranges, sizeof(v6_ranges) / sizeof(v6_ranges[0]), AF_INET6, b);
}

static int
addr_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_private((const unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	if (sa->sa_family == AF_INET6)
		return v6_private(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return 1;
}

/*
 * A host given as a literal address (as libcurl normalises it: 127.1 is
 * 127.0.0.1), with or without brackets, or localhost: known private
 * without DNS. Any other name is judged at connect.
 */
int
ssrf_host_private(const char *host)
{
	unsigned char a[16];
	char bare[64];
	size_t n = strlen(host);
	if (strcasecmp(host, "localhost") == 0 || (n > 10 &&
	    strcasecmp(host + n - 10, ".localhost") == 0))
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return v4_private(a);
	if (n > 2 && n < sizeof(bare) && host[0] == '[') {
		memcpy(bare, host + 1, n - 2);
		bare[n - 2] = '\0';
		host = bare;
	}
	return inet_pton(AF_INET6, host, a) == 1 && v6_private(a);
}

/*
 * A client's webhookUrl: on webhook_allow when it is set (urlmatch.c),
 * else https; never with a user name or password; and not a private
 * address literal unless webhook_private says so.
 */
int
ssrf_url_allowed(const struct config *cfg, const char *url, const char *scheme,
    const char *host, char *why, size_t whylen)
{
	const char *bad = NULL;
	if (urlmatch_userinfo(url))
		bad = "webhookUrl must not carry a user name or password";
	else if (*cfg->webhook_allow != '\0' ? !urlmatch_allowed(cfg->webhook_allow, url)
	    : strcmp(scheme, "https") != 0)
		bad = *cfg->webhook_allow ? "webhookUrl is not on the allowlist"
		    : "webhookUrl must be https";
	else if (cfg->webhook_private == 0 && ssrf_host_private(host))
		bad = "webhookUrl points to a private address";
	if (bad != NULL)
		snprintf(why, whylen, "%s", bad);
	return bad == NULL;
}

/* libcurl asks for every socket: refusing one here refuses that address. */
static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	const struct config *cfg = arg;
	(void)purpose;
	if (cfg->webhook_private == 0 && addr_private(&a->addr)) {
		char text[INET6_ADDRSTRLEN] = "?";
		const void *ip = a->family == AF_INET6 ?
		    (const void *)&((struct sockaddr_in6 *)&a->addr)->sin6_addr :
		    (const void *)&((struct sockaddr_in *)&a->addr)->sin_addr;
		inet_ntop(a->family, ip, text, sizeof(text));
		log_warn("webhook: refused to connect to the private address %s", text);
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

int
ssrf_guard(CURL *easy, const struct config *cfg)
{
	return curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, (void *)cfg) != CURLE_OK ? -1 : 0;
}
