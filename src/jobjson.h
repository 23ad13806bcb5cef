/* jobjson.h: a job as the reference's JSON: ImageGenerationJob and ImageProgressUpdate. */
#ifndef IMAGEGEN_JOBJSON_H
#define IMAGEGEN_JOBJSON_H

#include <stddef.h>

struct config;
struct image;
struct job;

int   jobjson_head(void *obj, const struct job *job);
void *jobjson_status(const struct config *cfg, const struct job *job,
	const struct image *images, size_t n);
char *jobjson_progress(const struct config *cfg, const struct job *job,
	const struct image *images, size_t n);
char *jobjson_data_url(const char *path);
char *jobjson_jpeg_url(const unsigned char *jpeg, size_t len);
char *jobjson_inline(const struct config *cfg, const char *case_id, const char *payload);
void *jobjson_accepted(const struct config *cfg, const char *case_id, const char *status,
	long total);
void *jobjson_accepted_job(const struct config *cfg, const char *case_id, const char *key,
	void *value);

#endif
