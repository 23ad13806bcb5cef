/*
 * auth.c: every image costs money, so generate, retry and cancel need
 * "Authorization: Bearer <token>" (RFC 6750) with one of the configured
 * tokens: api_tokens in the config, and api_tokens_file, one per line, a
 * file only the service may read. With no token configured nothing
 * matches: the service is closed, not open, by default.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth.h"
#include "config.h"

#define MAX_TOKENS 64

/* Kept as digests: compared in constant time, and of equal length whatever the token. */
static unsigned char digests[MAX_TOKENS][SHA256_DIGEST_LENGTH];
static int n_tokens;

static int
add_token(const char *tok, size_t len, char *err, size_t errlen)
{
	if (len == 0)
		return 0;
	if (len < 16) {
		snprintf(err, errlen, "a token is shorter than 16 characters");
		return -1;
	}
	if (n_tokens == MAX_TOKENS) {
		snprintf(err, errlen, "more than %d tokens", MAX_TOKENS);
		return -1;
	}
	SHA256((const unsigned char *)tok, len, digests[n_tokens++]);
	return 0;
}

/* Tokens separated by white space; a '#' starts a comment to the end of its line. */
static int
add_tokens(const char *text, char *err, size_t errlen)
{
	const char *p = text;
	while (*p != '\0') {
		if (*p == '#') {
			p += strcspn(p, "\n");
			continue;
		}
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		size_t n = strcspn(p, " \t\r\n");
		if (add_token(p, n, err, errlen) != 0)
			return -1;
		p += n;
	}
	return 0;
}

static int
read_tokens_file(const char *path, char *err, size_t errlen)
{
	char buf[16384];
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "api_tokens_file %s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	int bad = ferror(f) || !feof(f);
	fclose(f);
	buf[n] = '\0';
	int rc = bad ? -1 : add_tokens(buf, err, errlen);
	if (bad)
		snprintf(err, errlen, "api_tokens_file %s: unreadable or too large", path);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
auth_load(const struct config *cfg, char *err, size_t errlen)
{
	auth_free();
	if (add_tokens(cfg->api_tokens, err, errlen) != 0)
		return -1;
	if (*cfg->api_tokens_file != '\0' && read_tokens_file(cfg->api_tokens_file, err,
	    errlen) != 0)
		return -1;
	return n_tokens;
}

/* Returns 1 when the header carries a configured token. */
int
auth_check(const char *authorization)
{
	static const char scheme[] = "Bearer ";
	unsigned char d[SHA256_DIGEST_LENGTH];
	int match = 0;
	if (authorization == NULL ||
	    strncasecmp(authorization, scheme, sizeof(scheme) - 1) != 0)
		return 0;
	const char *tok = authorization + sizeof(scheme) - 1;
	tok += strspn(tok, " ");
	SHA256((const unsigned char *)tok, strlen(tok), d);
	/* Every token is compared, so the time taken tells nothing of which matched. */
	for (int i = 0; i < n_tokens; i++)
		match |= CRYPTO_memcmp(d, digests[i], sizeof(d)) == 0;
	return match;
}

void
auth_free(void)
{
	OPENSSL_cleanse(digests, sizeof(digests));
	n_tokens = 0;
}
