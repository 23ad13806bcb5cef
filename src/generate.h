/* generate.h: POST /api/generate-case-images. */
#ifndef IMAGEGEN_GENERATE_H
#define IMAGEGEN_GENERATE_H

struct request;

void generate_handle(struct request *r, const char *rest);

#endif
