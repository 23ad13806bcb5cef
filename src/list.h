/* list.h: GET /api/case-images, the jobs newest first, a page at a time. */
#ifndef IMAGEGEN_LIST_H
#define IMAGEGEN_LIST_H

struct request;

void list_handle(struct request *r, const char *rest);

#endif
