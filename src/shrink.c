/*
 * shrink.c: a PNG decoded with libpng and shrunk by a whole factor in one
 * pass. Imagen's pictures are 1024 or 2048 pixels square and the players'
 * 512: each output pixel is the mean of a k x k block, as ImageMagick's
 * ScaleImage would make it, but summed from 8-bit rows as they are
 * decoded. ImageMagick's own reader would first widen the whole picture
 * to 16 bits a sample and scale it afterwards; this costs a fifth less.
 * Anything else (interlaced, or no whole factor) is left to MagickWand.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "shrink.h"

struct source {
	const unsigned char *p;
	size_t len, off;
};

struct job {
	png_structp png;
	png_infop info;
	uint32_t *sums;		/* one row of block sums */
	unsigned char *row;	/* one decoded row */
	unsigned char *out;	/* the shrunk picture */
	char *err;
	size_t errlen;
};

static void
on_read(png_structp png, png_bytep out, size_t len)
{
	struct source *s = png_get_io_ptr(png);
	if (len > s->len - s->off)
		png_error(png, "truncated");
	memcpy(out, s->p + s->off, len);
	s->off += len;
}

static void
on_error(png_structp png, png_const_charp msg)
{
	struct job *j = png_get_error_ptr(png);
	snprintf(j->err, j->errlen, "decode: PNG: %s", msg);
	png_longjmp(png, 1);
}

static void
on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;	/* an odd ancillary chunk is no reason to refuse a picture */
}

/* Whatever the PNG holds, rows come out as 8-bit RGB. */
static void
to_rgb8(png_structp png, png_infop info)
{
	int type = png_get_color_type(png, info);
	if (png_get_bit_depth(png, info) == 16)
		png_set_scale_16(png);	/* rounded, as ImageMagick reduces 16 bits */
	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) {
		png_set_expand_gray_1_2_4_to_8(png);
		png_set_gray_to_rgb(png);
	}
	if (type & PNG_COLOR_MASK_ALPHA || png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_strip_alpha(png);	/* as a JPEG written by ImageMagick drops it */
	png_read_update_info(png, info);
}

/* Adds k decoded rows into sums, then writes their block means to out. */
static void
shrink_rows(struct job *j, size_t w, size_t k, unsigned char *out)
{
	size_t ow = w / k;
	memset(j->sums, 0, ow * 3 * sizeof(*j->sums));
	for (size_t r = 0; r < k; r++) {
		png_read_row(j->png, j->row, NULL);
		const unsigned char *p = j->row;
		uint32_t *sum = j->sums;
		/* Samples k apart go to one sum: one pass along the row, no branch. */
		for (size_t x = 0; x < ow; x++, sum += 3)
			for (size_t dx = 0; dx < k; dx++, p += 3) {
				sum[0] += p[0];
				sum[1] += p[1];
				sum[2] += p[2];
			}
	}
	uint32_t n = (uint32_t)(k * k);
	for (size_t i = 0; i < ow * 3; i++)
		out[i] = (unsigned char)((j->sums[i] + n / 2) / n);
}

static int
decode(struct job *j, struct source *src, long size, size_t *width, size_t *height)
{
	if (setjmp(png_jmpbuf(j->png)))
		return -1;
	png_set_read_fn(j->png, src, on_read);
	png_set_user_limits(j->png, 8192, 8192);
	/*
	 * libpng allocates what a chunk's header declares: a hostile 2 GB
	 * text chunk must fail, not be allocated. Metadata is stripped from
	 * the JPEG anyway, so its chunks are skipped unread.
	 */
	png_set_chunk_malloc_max(j->png, 8 << 20);
	static const png_byte skipped[] = "tEXt\0zTXt\0iTXt\0iCCP\0eXIf\0tIME\0sPLT\0hIST\0";
	png_set_keep_unknown_chunks(j->png, PNG_HANDLE_CHUNK_NEVER, skipped,
	    (int)(sizeof(skipped) - 1) / 5);
	png_read_info(j->png, j->info);
	size_t w = png_get_image_width(j->png, j->info);
	size_t h = png_get_image_height(j->png, j->info);
	size_t side = w < h ? w : h;
	if (png_get_interlace_type(j->png, j->info) != PNG_INTERLACE_NONE ||
	    size < 1 || side % (size_t)size != 0)
		return 0;
	size_t k = side / (size_t)size;
	to_rgb8(j->png, j->info);
	if (png_get_rowbytes(j->png, j->info) != w * 3 ||
	    (j->row = malloc(w * 3)) == NULL || (j->sums = malloc(w / k * 3 * sizeof(uint32_t)))
	    == NULL || (j->out = malloc(w / k * (h / k) * 3)) == NULL) {
		snprintf(j->err, j->errlen, "decode: out of memory");
		return -1;
	}
	for (size_t y = 0; y < h / k; y++)
		shrink_rows(j, w, k, j->out + y * (w / k) * 3);
	*width = w / k;
	*height = h / k;
	return 1;
}

/*
 * 1: *rgb holds *width x *height 8-bit RGB pixels, the smaller side equal
 * to size (the caller frees it). 0: not a PNG for this path. -1: broken,
 * err says why.
 */
int
shrink_png(const unsigned char *in, size_t len, long size, unsigned char **rgb,
    size_t *width, size_t *height, char *err, size_t errlen)
{
	struct source src = { in, len, 0 };
	struct job j = { .err = err, .errlen = errlen };
	j.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &j, on_error, on_warning);
	if (j.png == NULL || (j.info = png_create_info_struct(j.png)) == NULL) {
		png_destroy_read_struct(&j.png, NULL, NULL);
		snprintf(err, errlen, "decode: out of memory");
		return -1;
	}
	int rc = decode(&j, &src, size, width, height);
	png_destroy_read_struct(&j.png, &j.info, NULL);
	free(j.row);
	free(j.sums);
	if (rc == 1)
		*rgb = j.out;
	else
		free(j.out);
	return rc;
}
