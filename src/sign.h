/* sign.h: Standard Webhooks 1.0: signing, verifying, replays (HMAC-SHA256 of "id.timestamp.body"). */
#ifndef IMAGEGEN_SIGN_H
#define IMAGEGEN_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct request;

#define SIGN_KEY_MAX 64
#define SIGN_B64_LEN 45		/* base64 of a SHA-256 MAC, with its NUL */
#define SIGN_TOLERANCE_S 300	/* how far a webhook-timestamp may be from now */
/* How long a webhook-id is remembered: its message is stale by then. */
#define SIGN_REPLAY_MS (2 * SIGN_TOLERANCE_S * 1000)

int sign_secret(const char *whsec, unsigned char key[SIGN_KEY_MAX], size_t *keylen);
int sign_compute(const unsigned char *key, size_t keylen, const char *id, long long ts,
	const char *body, size_t len, char sig[SIGN_B64_LEN]);
int sign_verify(char *const *secrets, size_t n_secrets, const char *id, const char *ts,
	const char *header, const char *body, size_t len, long long now, const char **why);
struct curl_slist *sign_headers(const char *secret, const char *wid, const char *body);
int  sign_request(struct request *r, const char *secrets, const char *what);
void sign_refuse(struct request *r, const char *what, const char *why);

#endif
