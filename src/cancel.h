/* cancel.h: POST /api/case-images/{caseId}/cancel. */
#ifndef IMAGEGEN_CANCEL_H
#define IMAGEGEN_CANCEL_H

struct request;

void cancel_handle(struct request *r, const char *case_id);

#endif
