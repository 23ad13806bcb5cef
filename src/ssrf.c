/*
 * ssrf.c: clients name the URL imagegen posts progress to, so a client
 * could aim it at the host's own network. A webhookUrl must match one of
 * webhook_allow's prefixes (scheme, host, port, path) or, with none set,
 * be https; and, unless webhook_private says otherwise, the address
 * actually connected to must be public: the check runs on the socket's
 * address, after DNS, so a public name that resolves to 10.0.0.1 is refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"
#include "ssrf.h"

static int
v4_private(uint32_t a)
{
	return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
	    (a & 0xFFC00000) == 0x64400000 ||	/* 100.64/10, carrier-grade NAT */
	    (a & 0xFFFF0000) == 0xA9FE0000 ||	/* 169.254/16, link-local */
	    (a & 0xFFF00000) == 0xAC100000 ||	/* 172.16/12 */
	    (a & 0xFFFF0000) == 0xC0A80000 ||	/* 192.168/16 */
	    (a >> 28) >= 14;			/* multicast and reserved */
}

static int
v6_private(const struct in6_addr *a)
{
	const unsigned char *b = a->s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		uint32_t v4 = (uint32_t)b[12] << 24 | b[13] << 16 | b[14] << 8 | b[15];
		return v4_private(v4);
	}
	return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) ||
	    IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_MULTICAST(a) || (b[0] & 0xFE) == 0xFC;
}

static int
addr_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return v6_private(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 1;
}

/* A host given as a literal address, or localhost: known private without DNS. */
static int
host_private(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;
	char bare[64];
	size_t n = strlen(host);
	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return v4_private(ntohl(v4.s_addr));
	if (n > 2 && n < sizeof(bare) && host[0] == '[') {
		memcpy(bare, host + 1, n - 2);
		bare[n - 2] = '\0';
		return inet_pton(AF_INET6, bare, &v6) == 1 && v6_private(&v6);
	}
	return 0;
}

/* Whether url starts with one of the space-separated prefixes in list. */
int
ssrf_under_prefix(const char *list, const char *url)
{
	for (const char *p = list + strspn(list, " "); *p != '\0'; p += strspn(p, " ")) {
		size_t n = strcspn(p, " ");
		if (strncmp(url, p, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

int
ssrf_url_allowed(const struct config *cfg, const char *url, const char *scheme,
    const char *host, char *why, size_t whylen)
{
	if (*cfg->webhook_allow != '\0' ? !ssrf_under_prefix(cfg->webhook_allow, url)
	    : strcmp(scheme, "https") != 0) {
		snprintf(why, whylen, *cfg->webhook_allow ? "webhookUrl is not on the allowlist"
		    : "webhookUrl must be https");
		return 0;
	}
	if (cfg->webhook_private == 0 && host_private(host)) {
		snprintf(why, whylen, "webhookUrl points to a private address");
		return 0;
	}
	return 1;
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
