/* metrics.h: GET /api/metrics/image-generation. */
#ifndef IMAGEGEN_METRICS_H
#define IMAGEGEN_METRICS_H

struct request;

void metrics_handle(struct request *r, const char *rest);

#endif
