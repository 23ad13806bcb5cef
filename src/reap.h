/* reap.h: find jobs whose worker is gone and start a new one for each. */
#ifndef IMAGEGEN_REAP_H
#define IMAGEGEN_REAP_H

struct config;

int  reap_run(const struct config *cfg, int *redelivered);
void reap_hand_over(const struct config *cfg);
void reap_maybe(const struct config *cfg);

#endif
