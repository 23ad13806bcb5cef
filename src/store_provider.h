/* store_provider.h: what the providers cost, and what `imagegen check` found. */
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

int  store_image_usage(const char *case_id, const char *item_id, long prompt_tokens,
	long output_tokens);
int  store_check_record(const struct check_row *row);
int  store_check_last(const char *provider, struct check_row *row);
void store_provider_close(void);

#endif
