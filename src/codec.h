/* codec.h: base64 and SHA-256, through OpenSSL's libcrypto. */
#ifndef IMAGEGEN_CODEC_H
#define IMAGEGEN_CODEC_H

#include <stddef.h>
#include <stdint.h>

char *codec_base64_encode(const unsigned char *in, size_t len);
int   codec_base64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);
void  codec_sha256_hex(const void *in, size_t len, char hex[65]);
int64_t codec_now_ms(void);

#endif
