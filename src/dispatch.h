/* dispatch.h: a state host hands its jobs to worker hosts (dispatch_url). */
#ifndef IMAGEGEN_DISPATCH_H
#define IMAGEGEN_DISPATCH_H

struct config;
struct progress;

int  dispatch_start(const struct config *cfg, const char *case_id);
int  dispatch_reap(const struct config *cfg);
int  dispatch_send(const struct config *cfg, const char *case_id);
void dispatch_retry(const struct config *cfg, const char *case_id);
int  dispatch_cancel(const struct config *cfg, const char *case_id);
void dispatch_heard(const struct config *cfg, const struct progress *p);

#endif
