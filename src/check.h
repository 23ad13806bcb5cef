/*
 * check.h: `imagegen check`, the reaper's daily check, and the responder's
 * warning when the last one failed or none ran.
 */
#ifndef IMAGEGEN_CHECK_H
#define IMAGEGEN_CHECK_H

struct config;

int  check_command(const struct config *cfg, int argc, char **argv);
void check_daily(const struct config *cfg);
void check_warn(const struct config *cfg);

#endif
