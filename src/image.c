/* image.c: MagickWand turns a provider's picture into the JPEG players get. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wand/MagickWand.h>

#include "decodecost.h"
#include "image.h"
#include "shrink.h"

/*
 * Limits that hold for every image, set once: a picture is decoded only if
 * it fits them, so a hostile or broken answer cannot take the worker's
 * memory, disk or time. Imagen's pictures are 1024 or 2048 pixels square.
 */
#define MAX_SIDE 8192
static const struct { ResourceType type; MagickSizeType limit; } limits[] = {
	{ WidthResource, MAX_SIDE },
	{ HeightResource, MAX_SIDE },
	{ AreaResource, (MagickSizeType)4096 * 4096 },	/* pixels held in memory */
	{ MemoryResource, IMAGE_DECODE_BUDGET },
	{ MapResource, IMAGE_DECODE_BUDGET },
	{ DiskResource, 0 },				/* no pixel cache on disk */
	/* The worker's compressor runs one image per thread: OpenMP on top would oversubscribe. */
	{ ThreadResource, 1 },
	/*
	 * No TimeResource: ImageMagick counts it from the start of the process,
	 * not of an image, and a worker waiting on the rate limit outlives it.
	 */
};

/*
 * The decode budget: what the pictures being decoded at once may take
 * together, whatever the number of threads. A picture is decoded only
 * once its cost (decodecost.c) fits what is left; one that could never
 * fit is refused. ImageMagick's own limits above are the second line.
 */
static pthread_mutex_t budget_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t budget_cv = PTHREAD_COND_INITIALIZER;
static size_t budget_used;

static void
budget_take(size_t cost)
{
	pthread_mutex_lock(&budget_mu);
	while (budget_used + cost > IMAGE_DECODE_BUDGET)
		pthread_cond_wait(&budget_cv, &budget_mu);
	budget_used += cost;
	pthread_mutex_unlock(&budget_mu);
}

static void
budget_give(size_t cost)
{
	pthread_mutex_lock(&budget_mu);
	budget_used -= cost;
	pthread_cond_broadcast(&budget_cv);
	pthread_mutex_unlock(&budget_mu);
}

int
image_init(void)
{
	MagickWandGenesis();
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (MagickSetResourceLimit(limits[i].type, limits[i].limit) == MagickFalse)
			return -1;
	return 0;
}

void
image_done(void)
{
	MagickWandTerminus();
}

/* Only what Imagen returns is decoded: ImageMagick's other coders are attack surface. */
static const char *
sniff(const unsigned char *p, size_t len)
{
	if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "PNG";
	if (len >= 3 && memcmp(p, "\xff\xd8\xff", 3) == 0)
		return "JPEG";
	if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
		return "WEBP";
	return NULL;
}

static void
wand_error(MagickWand *w, const char *step, char *err, size_t errlen)
{
	ExceptionType severity;
	char *desc = MagickGetException(w, &severity);
	snprintf(err, errlen, "%s: %s", step, desc && *desc ? desc : "failed");
	MagickRelinquishMemory(desc);
}

/* Resize so the picture covers size x size, then keep its centre. */
static MagickBooleanType
cover_crop(MagickWand *w, long size)
{
	size_t iw = MagickGetImageWidth(w), ih = MagickGetImageHeight(w);
	double scale = (double)size / (double)(iw < ih ? iw : ih);
	size_t nw = (size_t)(iw * scale + 0.5), nh = (size_t)(ih * scale + 0.5);
	if (nw < (size_t)size)
		nw = (size_t)size;
	if (nh < (size_t)size)
		nh = (size_t)size;
	/*
	 * Shrinking, ScaleImage averages each output pixel's area of input: a
	 * box filter, as good as a windowed sinc for a 2:1 reduction at a
	 * quarter of the cost. Enlarging (a provider's odd small picture) uses
	 * a proper filter.
	 */
	MagickBooleanType ok = nw == iw && nh == ih ? MagickTrue
	    : nw < iw ? MagickScaleImage(w, nw, nh)
	    : MagickResizeImage(w, nw, nh, LanczosFilter, 1.0);
	if (ok == MagickFalse)
		return MagickFalse;
	if (MagickCropImage(w, (size_t)size, (size_t)size, (ssize_t)(nw - (size_t)size) / 2,
	    (ssize_t)(nh - (size_t)size) / 2) == MagickFalse)
		return MagickFalse;
	return MagickSetImagePage(w, (size_t)size, (size_t)size, 0, 0);
}

/*
 * Reads the header alone: a decompression bomb (a small PNG declaring
 * 30000x30000) is refused before any pixel is allocated.
 */
/* A PNG's size, as its IHDR (always the first chunk) declares it. */
static int
png_declared(const unsigned char *in, size_t len, size_t *w, size_t *h)
{
	if (len < 24 || memcmp(in + 12, "IHDR", 4) != 0)
		return -1;
	*w = (size_t)in[16] << 24 | (size_t)in[17] << 16 | (size_t)in[18] << 8 | in[19];
	*h = (size_t)in[20] << 24 | (size_t)in[21] << 16 | (size_t)in[22] << 8 | in[23];
	return 0;
}

/*
 * Refuses a picture larger than MAX_SIDE from its header alone: a
 * decompression bomb (a small PNG declaring 30000x30000) is stopped before
 * any pixel is allocated. ImageMagick's ping reads the other formats'
 * headers; it fails without a word on what its own limits refuse.
 */
static int
too_large(const char *format, const unsigned char *in, size_t len, char *err, size_t errlen)
{
	size_t iw = 0, ih = 0;
	if (strcmp(format, "PNG") == 0) {
		if (png_declared(in, len, &iw, &ih) != 0) {
			snprintf(err, errlen, "decode: a PNG without its IHDR header");
			return 1;
		}
	} else {
		MagickWand *p = NewMagickWand();
		if (p != NULL && MagickPingImageBlob(p, in, len) == MagickTrue) {
			iw = MagickGetImageWidth(p);
			ih = MagickGetImageHeight(p);
		} else {
			iw = ih = (size_t)MAX_SIDE + 1;	/* what ping cannot size is not decoded */
		}
		if (p != NULL)
			DestroyMagickWand(p);
	}
	if (iw <= MAX_SIDE && ih <= MAX_SIDE)
		return 0;
	if (iw > MAX_SIDE + 1 || ih > MAX_SIDE + 1)
		snprintf(err, errlen, "image too large: %zux%zu, over the %dx%d limit", iw, ih,
		    MAX_SIDE, MAX_SIDE);
	else
		snprintf(err, errlen, "image too large or corrupt: over the %dx%d limit",
		    MAX_SIDE, MAX_SIDE);
	return 1;
}

/*
 * A PNG, JPEG or WebP picture's size, from its header alone: what a
 * progress update's data: URL holds is checked before it is decoded.
 */
int
image_dimensions(const unsigned char *in, size_t len, size_t *width, size_t *height)
{
	const char *format = sniff(in, len);
	*width = *height = 0;
	if (format == NULL)
		return -1;
	if (strcmp(format, "PNG") == 0)
		return png_declared(in, len, width, height);
	MagickWand *p = NewMagickWand();
	int rc = p != NULL && MagickSetFormat(p, format) == MagickTrue &&
	    MagickPingImageBlob(p, in, len) == MagickTrue ? 0 : -1;
	if (rc == 0) {
		*width = MagickGetImageWidth(p);
		*height = MagickGetImageHeight(p);
	}
	if (p != NULL)
		DestroyMagickWand(p);
	return rc;
}

/* 1: read, already shrunk; 0: left to MagickWand's own reader; -1: failed. */
static int
read_png_shrunk(MagickWand *w, const unsigned char *in, size_t len, long size, char *err,
    size_t errlen)
{
	unsigned char *rgb = NULL;
	size_t cols = 0, rows = 0;
	int rc = shrink_png(in, len, size, &rgb, &cols, &rows, err, errlen);
	if (rc == 1 && MagickConstituteImage(w, cols, rows, "RGB", CharPixel, rgb)
	    == MagickFalse) {
		wand_error(w, "decode", err, errlen);
		rc = -1;
	}
	free(rgb);
	return rc;
}

static int
read_input(MagickWand *w, const char *format, const unsigned char *in, size_t len,
    long size, char *err, size_t errlen)
{
	char hint[64];
	/* Lets libjpeg decode at a reduced scale: most of a JPEG's decoding cost saved. */
	snprintf(hint, sizeof(hint), "%ldx%ld", size, size);
	if (strcmp(format, "JPEG") == 0 && MagickSetOption(w, "jpeg:size", hint) == MagickFalse) {
		wand_error(w, "set jpeg:size", err, errlen);
		return -1;
	}
	if (too_large(format, in, len, err, errlen))
		return -1;
	if (strcmp(format, "PNG") == 0) {
		int rc = read_png_shrunk(w, in, len, size, err, errlen);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	if (MagickSetFormat(w, format) == MagickFalse ||
	    MagickReadImageBlob(w, in, len) == MagickFalse) {
		wand_error(w, "decode", err, errlen);
		return -1;
	}
	if (MagickGetImageWidth(w) == 0 || MagickGetImageHeight(w) == 0) {
		snprintf(err, errlen, "decode: empty image");
		return -1;
	}
	return 0;
}

static int
encode(MagickWand *w, long quality, unsigned char **out, size_t *outlen, char *err,
    size_t errlen)
{
	if (MagickStripImage(w) == MagickFalse ||
	    MagickSetFormat(w, "JPEG") == MagickFalse ||
	    MagickSetImageFormat(w, "JPEG") == MagickFalse ||
	    MagickSetImageCompressionQuality(w, (size_t)quality) == MagickFalse ||
	    MagickSetOption(w, "jpeg:sampling-factor", "4:2:0") == MagickFalse ||
	    MagickSetImageColorspace(w, sRGBColorspace) == MagickFalse) {
		wand_error(w, "prepare JPEG", err, errlen);
		return -1;
	}
	size_t n = 0;
	unsigned char *blob = MagickGetImageBlob(w, &n);
	if (blob == NULL || n == 0) {
		wand_error(w, "encode JPEG", err, errlen);
		MagickRelinquishMemory(blob);
		return -1;
	}
	*out = malloc(n);
	if (*out == NULL) {
		MagickRelinquishMemory(blob);
		snprintf(err, errlen, "encode JPEG: out of memory");
		return -1;
	}
	memcpy(*out, blob, n);
	*outlen = n;
	MagickRelinquishMemory(blob);
	return 0;
}

static int compress_within(const char *format, const unsigned char *in, size_t len,
    long size, long quality, unsigned char **out, size_t *outlen, char *err, size_t errlen);

/* What decoding this picture will take, or 0 with err set if it is refused. */
static size_t
decode_cost(const char *format, const unsigned char *in, size_t len, long size, char *err,
    size_t errlen)
{
	struct decode_header h = { 0 };
	int shrunk = 0;
	if (strcmp(format, "JPEG") == 0) {
		if (decodecost_jpeg(in, len, &h) != 0) {
			snprintf(err, errlen, "decode: a JPEG without a readable frame header");
			return 0;
		}
	} else if (image_dimensions(in, len, &h.width, &h.height) != 0) {
		snprintf(err, errlen, "decode: a %s whose size cannot be read", format);
		return 0;
	} else if (strcmp(format, "PNG") == 0) {
		size_t side = h.width < h.height ? h.width : h.height;
		shrunk = len > 28 && in[28] == 0 && size > 0 && side >= (size_t)size &&
		    side % (size_t)size == 0;
	}
	if (h.width > MAX_SIDE || h.height > MAX_SIDE) {
		snprintf(err, errlen, "image too large: %zux%zu, over the %dx%d limit", h.width,
		    h.height, MAX_SIDE, MAX_SIDE);
		return 0;
	}
	size_t cost = decodecost_bytes(format, &h, size, shrunk);
	if (cost > IMAGE_DECODE_BUDGET) {
		snprintf(err, errlen, "image too large to decode: a %zux%zu %s%s needs %zu MiB,"
		    " over the %d MiB budget", h.width, h.height, h.multiscan ? "multi-scan " : "",
		    format, cost >> 20, (int)(IMAGE_DECODE_BUDGET >> 20));
		return 0;
	}
	return cost;
}

int
image_compress(const unsigned char *in, size_t len, long size, long quality,
    unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
	const char *format = sniff(in, len);
	if (format == NULL) {
		snprintf(err, errlen, "not a PNG, JPEG or WebP image (%zu bytes)", len);
		return -1;
	}
	size_t cost = decode_cost(format, in, len, size, err, errlen);
	if (cost == 0)
		return -1;
	budget_take(cost);
	int rc = compress_within(format, in, len, size, quality, out, outlen, err, errlen);
	budget_give(cost);
	return rc;
}

static int
compress_within(const char *format, const unsigned char *in, size_t len, long size,
    long quality, unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
	MagickWand *w = NewMagickWand();
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = -1;
	if (read_input(w, format, in, len, size, err, errlen) != 0)
		goto done;
	if (cover_crop(w, size) == MagickFalse) {
		wand_error(w, "resize", err, errlen);
		goto done;
	}
	rc = encode(w, quality, out, outlen, err, errlen);
done:
	DestroyMagickWand(w);
	return rc;
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The error names the file as {caseId}/{itemId}.jpg: the message reaches
 * clients in the status JSON, and the server's paths are none of theirs.
 * errno is left as the failing call set it, for the caller to judge.
 */
static int
write_failed(const char *step, const char *dir, const char *name, const char *tmp,
    char *err, size_t errlen)
{
	int saved = errno;
	const char *slash = strrchr(dir, '/');
	snprintf(err, errlen, "%s %s/%s: %s", step, slash ? slash + 1 : dir, name,
	    strerror(saved));
	if (tmp != NULL)
		unlink(tmp);
	errno = saved;
	return -1;
}

/*
 * Temporary file, fsync, rename: a reader sees the whole image or none,
 * and a crash leaves at worst a ".tmp" file nginx never serves.
 */
int
image_write(const char *dir, const char *name, const unsigned char *data, size_t len,
    char *err, size_t errlen)
{
	char tmp[4096], path[4096];
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return write_failed("mkdir for", dir, name, NULL, err, errlen);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, name,
	    (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return write_failed("create", dir, name, NULL, err, errlen);
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return write_failed("write", dir, name, tmp, err, errlen);
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		return write_failed("rename", dir, name, tmp, err, errlen);
	return 0;
}
