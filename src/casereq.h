/* casereq.h: the generate request, parsed and validated. */
#ifndef IMAGEGEN_CASEREQ_H
#define IMAGEGEN_CASEREQ_H

#include <stddef.h>

struct config;

enum item_kind { KIND_EVIDENCE, KIND_LOCATION };

struct item {
	char *id;
	char *name;
	char *description;
	enum item_kind kind;
};

struct case_req {
	char *case_id;
	char *webhook_url;	/* NULL when none */
	struct item *items;	/* evidence first, then locations */
	size_t n_items;
	size_t n_evidence;
	char hash[65];		/* SHA-256 of the canonical request */
};

struct req_error {
	char message[256];
	char field[96];
};

int  casereq_parse(const char *body, size_t len, const struct config *cfg,
	struct case_req *out, struct req_error *err);
void casereq_free(struct case_req *req);
int  casereq_valid_id(const char *s);
const char *casereq_kind_name(enum item_kind kind);

#endif
