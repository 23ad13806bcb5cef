/* sign.h: Standard Webhooks 1.0 signatures: HMAC-SHA256 over "id.timestamp.body". */
#ifndef IMAGEGEN_SIGN_H
#define IMAGEGEN_SIGN_H

#include <stddef.h>

#define SIGN_KEY_MAX 64
#define SIGN_B64_LEN 45		/* base64 of a SHA-256 MAC, with its NUL */
#define SIGN_TOLERANCE_S 300	/* how far a webhook-timestamp may be from now */

int sign_secret(const char *whsec, unsigned char key[SIGN_KEY_MAX], size_t *keylen);
int sign_compute(const unsigned char *key, size_t keylen, const char *id, long long ts,
	const char *body, size_t len, char sig[SIGN_B64_LEN]);
int sign_verify(char *const *secrets, size_t n_secrets, const char *id, const char *ts,
	const char *header, const char *body, size_t len, long long now, const char **why);

#endif
