/*
 * store_provider.h: what the providers cost, what `imagegen check` found,
 * and what is known of each model: retired, or its retirement announced.
 */
#ifndef IMAGEGEN_STORE_PROVIDER_H
#define IMAGEGEN_STORE_PROVIDER_H

#include <stdint.h>

/* One provider's result of one `imagegen check`. */
struct check_row {
	char provider[16];
	char model[256];
	int ok;
	char detail[512];
	int64_t checked_at;
};

/* What the database knows of one model (migration 19). */
struct model_row {
	int64_t retired_at;	/* when a provider said it is gone; 0 while it works */
	char retired_kind[12];	/* "retired", or "no-images": it answered it makes none */
	char retired_reason[512];
	char stage[16];		/* the lifecycle stage an answer last gave, or "" */
	int64_t retires_at;	/* the retirement announced, epoch ms, or 0 */
	int made_images;	/* it has made a picture here */
};

int  store_image_usage(const char *case_id, const char *item_id, long prompt_tokens,
	long output_tokens);
int  store_check_record(const struct check_row *row);
int  store_check_last(const char *provider, const char *model, struct check_row *row);
int  store_model_get(const char *provider, const char *model, struct model_row *row);
int  store_model_retire(const char *provider, const char *model, const char *kind,
	const char *reason, int64_t now);
int  store_model_clear(const char *provider, const char *model);
int  store_model_note(const char *provider, const char *model, const char *stage,
	int64_t retires_at, int64_t now);
void store_provider_close(void);

#endif
