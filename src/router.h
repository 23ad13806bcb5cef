/* router.h: maps a request's path and method to its handler. */
#ifndef IMAGEGEN_ROUTER_H
#define IMAGEGEN_ROUTER_H

struct request;

void router_dispatch(struct request *r);
int  router_reads_only(const struct request *r);

#endif
