/* webhook.h: POST /api/webhook/image-progress. */
#ifndef IMAGEGEN_WEBHOOK_H
#define IMAGEGEN_WEBHOOK_H

struct request;

void webhook_handle(struct request *r, const char *rest);

#endif
