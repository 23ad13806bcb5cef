/* store_metrics.h: the aggregate queries behind the metrics route. */
#ifndef IMAGEGEN_STORE_METRICS_H
#define IMAGEGEN_STORE_METRICS_H

void store_metrics_close(void);

#endif
