/* retry.h: POST /api/case-images/{caseId}/retry. */
#ifndef IMAGEGEN_RETRY_H
#define IMAGEGEN_RETRY_H

struct request;

void retry_handle(struct request *r, const char *case_id);

#endif
