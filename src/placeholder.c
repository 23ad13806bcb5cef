/*
 * placeholder.c: `provider = local`: draw a picture from a hash of the
 * prompt. The offline provider of the demo and of the benchmarks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <wand/MagickWand.h>

#include "config.h"
#include "placeholder.h"
#include "provider.h"

static void
color(char *buf, size_t len, const unsigned char *h)
{
	snprintf(buf, len, "#%02x%02x%02x", h[0], h[1], h[2]);
}

/* A gradient between two colours and a few shapes, every choice taken from the hash. */
static int
draw(MagickWand *w, const unsigned char *h, long size)
{
	char spec[64], a[8], b[8];
	color(a, sizeof(a), h);
	color(b, sizeof(b), h + 3);
	snprintf(spec, sizeof(spec), "gradient:%s-%s", a, b);
	if (MagickSetSize(w, (size_t)size, (size_t)size) == MagickFalse ||
	    MagickReadImage(w, spec) == MagickFalse)
		return -1;
	DrawingWand *d = NewDrawingWand();
	PixelWand *p = NewPixelWand();
	if (d == NULL || p == NULL)
		goto fail;
	for (int i = 0; i < 4; i++) {
		const unsigned char *c = h + 6 + 6 * i;
		char fill[8];
		color(fill, sizeof(fill), c);
		PixelSetColor(p, fill);
		DrawSetFillColor(d, p);
		DrawSetFillOpacity(d, 0.75);
		double x = c[3] * size / 256.0, y = c[4] * size / 256.0;
		double r = (c[5] % 64 + 16) * size / 256.0;
		if (i % 2)
			DrawCircle(d, x, y, x + r, y);
		else
			DrawRectangle(d, x - r, y - r / 2, x + r, y + r / 2);
	}
	if (MagickDrawImage(w, d) == MagickFalse)
		goto fail;
	DestroyPixelWand(p);
	DestroyDrawingWand(d);
	return 0;
fail:
	if (p != NULL)
		DestroyPixelWand(p);
	if (d != NULL)
		DestroyDrawingWand(d);
	return -1;
}

int
placeholder_render(const char *prompt, long size, unsigned char **png, size_t *len,
    char *err, size_t errlen)
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)prompt, strlen(prompt), h);
	MagickWand *w = NewMagickWand();
	int rc = -1;
	size_t n = 0;
	unsigned char *blob = NULL;
	if (w == NULL || draw(w, h, size) != 0 ||
	    MagickSetImageFormat(w, "PNG") == MagickFalse ||
	    /* zlib level 1: the image step decodes it at once, so fast beats small. */
	    MagickSetImageCompressionQuality(w, 10) == MagickFalse ||
	    (blob = MagickGetImageBlob(w, &n)) == NULL) {
		ExceptionType sev;
		char *desc = w ? MagickGetException(w, &sev) : NULL;
		snprintf(err, errlen, "placeholder: %s", desc && *desc ? desc : "render failed");
		if (desc != NULL)
			MagickRelinquishMemory(desc);
	} else if ((*png = malloc(n)) == NULL) {
		snprintf(err, errlen, "placeholder: out of memory");
	} else {
		memcpy(*png, blob, n);
		*len = n;
		rc = 0;
	}
	if (blob != NULL)
		MagickRelinquishMemory(blob);
	if (w != NULL)
		DestroyMagickWand(w);
	return rc;
}

static void
render(const struct config *cfg, const char *prompt, struct provider_answer *a)
{
	if (placeholder_render(prompt, cfg->image_size, &a->img, &a->len, a->err,
	    sizeof(a->err)) == 0)
		a->verdict = PV_OK;
	else
		a->verdict = PV_FAILED;
}

/* No key, no network, no cost: the worker calls render when local_delay is over. */
const struct provider provider_local = {
	.name = "local",
	.fixed_model = "placeholder",
	.key_setting = "",
	.model_setting = "",
	.render = render,
};
