/* imagen.h: the Imagen predict client, one libcurl easy handle per image. */
#ifndef IMAGEGEN_IMAGEN_H
#define IMAGEGEN_IMAGEN_H

#include <stddef.h>

#include <curl/curl.h>

struct config;

struct imagen_call {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *resp;
	size_t resp_len;
	size_t resp_cap;
	char errbuf[CURL_ERROR_SIZE];
};

/* What imagen_finish makes of an answer. */
enum imagen_result { IMAGEN_OK, IMAGEN_FAILED, IMAGEN_TRANSIENT };

int  imagen_start(struct imagen_call *c, const struct config *cfg, const char *prompt);
enum imagen_result imagen_finish(struct imagen_call *c, CURLcode rc, unsigned char **img,
	size_t *len, long *retry_after_ms, char *err, size_t errlen);
int  imagen_parse(const char *body, size_t len, unsigned char **img, size_t *imglen,
	char *err, size_t errlen);
void imagen_free(struct imagen_call *c);

#endif
