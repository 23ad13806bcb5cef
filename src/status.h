/* status.h: GET /api/case-images/{caseId}. */
#ifndef IMAGEGEN_STATUS_H
#define IMAGEGEN_STATUS_H

struct request;

void status_handle(struct request *r, const char *rest);

#endif
