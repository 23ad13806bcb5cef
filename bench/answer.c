/*
 * bench/answer.c: what reading a provider's answer costs: the picture
 * arrives as base64 inside JSON, and src/'s own parsers (provider_gemini,
 * provider_openai: cJSON, then the base64 decode) take
 * the picture out. Timed against the image step on the same picture
 * (src/image.c), in alternating blocks. Prints median milliseconds per
 * answer of each, and the answer's bytes.
 *
 * Usage: answer PICTURE [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "image.h"
#include "provider.h"
#include "slurp.h"
#include "timing.h"

#define N_PROVIDERS 2

/* The answer as each provider sends it, with usage as they add it. */
static char *
wrap(const char *fmt, const char *mime, const char *b64)
{
	size_t n = strlen(fmt) + strlen(mime) + strlen(b64) + 1;
	char *out = malloc(n);
	if (out != NULL)
		snprintf(out, n, fmt, mime, b64);
	return out;
}

/* OpenAI's answer names no mime type: its %.0s takes the argument and prints nothing. */
static const char *const formats[N_PROVIDERS] = {
	"{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"inlineData\":"
	"{\"mimeType\":\"%s\",\"data\":\"%s\"}}]},\"finishReason\":\"STOP\"}],"
	"\"usageMetadata\":{\"promptTokenCount\":30,\"candidatesTokenCount\":1120}}",
	"{\"created\":1,%.0s\"data\":[{\"b64_json\":\"%s\"}],\"usage\":{\"input_tokens\":30,"
	"\"output_tokens\":1056}}",
};

/* One parse of an answer, in ms; -1 when it yields no picture. */
static double
parse_once(const struct provider *p, const char *answer, size_t len)
{
	struct provider_answer a;
	provider_answer_init(&a);
	double start = now_ms();
	p->parse(answer, len, &a);
	double ms = now_ms() - start;
	free(a.img);
	return a.verdict == PV_OK ? ms : -1;
}

static double
compress_once(const unsigned char *pic, size_t len)
{
	unsigned char *out = NULL;
	size_t outlen;
	char err[256];
	double start = now_ms();
	int rc = image_compress(pic, len, 512, 80, &out, &outlen, err, sizeof(err));
	double ms = now_ms() - start;
	free(out);
	return rc == 0 ? ms : -1;
}

int
main(int argc, char **argv)
{
	static const char *const names[N_PROVIDERS] = { "gemini", "openai" };
	const struct provider *provs[N_PROVIDERS] = { &provider_gemini, &provider_openai };
	size_t len = 0;
	unsigned char *pic = argc >= 2 ? slurp(argv[1], &len) : NULL;
	int n = argc > 2 ? atoi(argv[2]) : 20;
	char *b64 = pic ? codec_base64_encode(pic, len) : NULL;
	const char *dot = argc >= 2 ? strrchr(argv[1], '.') : NULL;
	const char *mime = dot && strcmp(dot, ".png") == 0 ? "image/png" : "image/jpeg";
	double *t[N_PROVIDERS + 1];
	for (int k = 0; k <= N_PROVIDERS; k++)
		t[k] = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
	if (b64 == NULL || n < 1 || t[N_PROVIDERS] == NULL || image_init() != 0) {
		fprintf(stderr, "usage: answer PICTURE [N]\n");
		return 1;
	}
	char *answers[N_PROVIDERS];
	for (int k = 0; k < N_PROVIDERS; k++)
		if ((answers[k] = wrap(formats[k], mime, b64)) == NULL)
			return 1;
	/*
	 * Rounds: each kind once per round, so a neighbour's burst falls on all,
	 * and each goes first in turn: the first after the image step meets the
	 * cold pages that step freed.
	 */
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < N_PROVIDERS; j++) {
			int k = (i + j) % N_PROVIDERS;
			if ((t[k][i] = parse_once(provs[k], answers[k], strlen(answers[k]))) < 0) {
				fprintf(stderr, "answer: %s: no picture\n", names[k]);
				return 1;
			}
		}
		if ((t[N_PROVIDERS][i] = compress_once(pic, len)) < 0)
			return 1;
	}
	for (int k = 0; k <= N_PROVIDERS; k++)
		qsort(t[k], (size_t)n, sizeof(double), cmp_double);
	for (int k = 0; k < N_PROVIDERS; k++)
		printf("%s_parse_ms=%.3f\n", names[k], t[k][n / 2]);
	printf("compress_ms=%.2f\nanswer_bytes=%zu\npicture_bytes=%zu\n",
	    t[N_PROVIDERS][n / 2], strlen(answers[0]), len);
	for (int k = 0; k < N_PROVIDERS; k++)
		free(answers[k]);
	for (int k = 0; k <= N_PROVIDERS; k++)
		free(t[k]);
	free(b64);
	free(pic);
	image_done();
	return 0;
}
