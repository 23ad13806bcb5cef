/* codec.c: base64 and SHA-256 via libcrypto, and the wall clock in ms. */
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "codec.h"

char *
codec_base64_encode(const unsigned char *in, size_t len)
{
	if (len > (size_t)INT32_MAX / 2)
		return NULL;
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	if (out == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/*
 * EVP_DecodeUpdate, unlike EVP_DecodeBlock, rejects bad characters,
 * skips line breaks and accounts for padding.
 */
int
codec_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	if (len == 0 || len > (size_t)INT32_MAX / 2)
		return -1;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	unsigned char *buf = malloc(len / 4 * 3 + 4);
	int n = 0, tail = 0;
	if (ctx == NULL || buf == NULL)
		goto fail;
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)in, (int)len) < 0)
		goto fail;
	if (EVP_DecodeFinal(ctx, buf + n, &tail) < 0)
		goto fail;
	if (n + tail == 0)
		goto fail;
	EVP_ENCODE_CTX_free(ctx);
	*out = buf;
	*outlen = (size_t)(n + tail);
	return 0;
fail:
	EVP_ENCODE_CTX_free(ctx);
	free(buf);
	return -1;
}

void
codec_sha256_hex(const void *in, size_t len, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(in, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

int64_t
codec_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
