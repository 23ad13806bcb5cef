/*
 * decodecost.c: the memory a picture takes to decode, estimated from its
 * header before a byte of it is decoded, so that image.c can hold every
 * decode within one budget. Most of it is ImageMagick's pixel cache, 8
 * bytes a pixel at Q16; a multi-scan JPEG (progressive, or sequential
 * with its components in separate scans) also makes libjpeg keep every
 * DCT coefficient of the whole picture, 2 bytes a sample however small
 * the output it is asked for (libjpeg's jdcoefct.c: a full-image buffer).
 */
#include <string.h>

#include "decodecost.h"

#define PIXEL_BYTES 8		/* ImageMagick 6, Q16: a PixelPacket */
#define BLOCK_BYTES 128		/* a JBLOCK: 64 coefficients of 2 bytes */

static size_t
be16(const unsigned char *p)
{
	return (size_t)p[0] << 8 | p[1];
}

static size_t
round_up(size_t n, size_t m)
{
	return (n + m - 1) / m * m;
}

/* The frame header's fields, and the coefficient buffer its scans need. */
static int
read_frame(const unsigned char *s, size_t seglen, int progressive, struct decode_header *h,
    int sampling[4][2])
{
	if (seglen < 8)
		return -1;
	h->height = be16(s + 1);
	h->width = be16(s + 3);
	h->components = s[5];
	if (h->components < 1 || h->components > 4 || seglen < 6 + 3 * (size_t)h->components ||
	    h->width == 0 || h->height == 0)
		return -1;
	for (int c = 0; c < h->components; c++) {
		sampling[c][0] = s[7 + 3 * c] >> 4;
		sampling[c][1] = s[7 + 3 * c] & 15;
		if (sampling[c][0] < 1 || sampling[c][0] > 4 || sampling[c][1] < 1 ||
		    sampling[c][1] > 4)
			return -1;
	}
	h->multiscan = progressive;
	return 0;
}

static void
count_coefficients(struct decode_header *h, int sampling[4][2])
{
	int hmax = 1, vmax = 1;
	for (int c = 0; c < h->components; c++) {
		hmax = sampling[c][0] > hmax ? sampling[c][0] : hmax;
		vmax = sampling[c][1] > vmax ? sampling[c][1] : vmax;
	}
	h->coefficients = 0;
	for (int c = 0; c < h->components; c++) {
		size_t cw = (h->width * (size_t)sampling[c][0] + (size_t)hmax - 1) / (size_t)hmax;
		size_t ch = (h->height * (size_t)sampling[c][1] + (size_t)vmax - 1) / (size_t)vmax;
		h->coefficients += round_up((cw + 7) / 8, (size_t)sampling[c][0]) *
		    round_up((ch + 7) / 8, (size_t)sampling[c][1]) * BLOCK_BYTES;
	}
}

/*
 * Walks the markers up to the first scan: the frame (SOF0-15 but DHT,
 * JPG and DAC) gives the size and whether it is progressive, the first
 * SOS whether the components are interleaved. 0, or -1 if not readable.
 */
int
decodecost_jpeg(const unsigned char *in, size_t len, struct decode_header *h)
{
	int sampling[4][2], have_frame = 0;
	memset(h, 0, sizeof(*h));
	if (len < 4 || in[0] != 0xFF || in[1] != 0xD8)
		return -1;
	for (size_t i = 2; i + 4 <= len;) {
		if (in[i] != 0xFF) {
			i++;	/* stray bytes before a marker: libjpeg skips them too */
			continue;
		}
		unsigned m = in[i + 1];
		if (m == 0xFF || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
			i += m == 0xFF ? 1 : 2;	/* fill byte, or a marker without a segment */
			continue;
		}
		size_t seglen = be16(in + i + 2);
		if (seglen < 2 || i + 2 + seglen > len)
			return -1;
		const unsigned char *s = in + i + 4;
		if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
			if (have_frame || read_frame(s, seglen - 2, (m & 3) == 2, h, sampling) != 0)
				return -1;
			have_frame = 1;
		} else if (m == 0xDA) {
			if (!have_frame || seglen < 3)
				return -1;
			if (s[0] < h->components)
				h->multiscan = 1;
			if (h->multiscan)
				count_coefficients(h, sampling);
			return 0;
		} else if (m == 0xD9) {
			return -1;
		}
		i += 2 + seglen;
	}
	return -1;
}

/*
 * Bytes to decode a picture of h's size and turn it into a size x size
 * JPEG: the decoded picture (a JPEG shrunk on load by up to 8 as
 * jpeg:size asks, or by shrink.c for a PNG when shrunk), the coefficients
 * of a multi-scan JPEG, a WebP's own RGBA buffer, an interlaced PNG's
 * whole image in libpng's rows, then the resized and cropped copies.
 */
size_t
decodecost_bytes(const char *format, const struct decode_header *h, long size, int shrunk)
{
	size_t w = h->width, ht = h->height, side = w < ht ? w : ht, s = (size_t)size;
	size_t out = w * ht, extra = 0;
	if (strcmp(format, "JPEG") == 0) {
		/*
		 * ImageMagick asks libjpeg for 1/denom, denom = side / size, and
		 * libjpeg scales by M/8, M the smallest of 1..8 not below it;
		 * not for CMYK, which ImageMagick reads at full size.
		 */
		size_t denom = h->components == 4 ? 1 : side / s, m = 8;
		while (m > 1 && (m - 1) * denom >= 8)
			m--;
		out = round_up(w * m, 8) / 8 * (round_up(ht * m, 8) / 8);
		extra = h->coefficients;
	} else if (strcmp(format, "WEBP") == 0) {
		extra = w * ht * 4;
	} else if (shrunk) {
		size_t k = side / s;
		out = (w / k) * (ht / k);
		extra = w * 3 + out * 3;	/* shrink.c's row and its RGB output */
	} else {
		extra = w * ht * PIXEL_BYTES;	/* an interlaced PNG is held whole */
	}
	size_t cover = (w > ht ? w * s / ht + 1 : s) * (ht > w ? ht * s / w + 1 : s);
	return out * PIXEL_BYTES + extra + cover * PIXEL_BYTES + s * s * PIXEL_BYTES;
}
