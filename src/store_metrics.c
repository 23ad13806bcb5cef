/* store_metrics.c: the aggregate queries behind the metrics route, on the store's connection. */
#include "store_metrics.h"

void
store_metrics_close(void)
{
}
