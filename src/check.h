/* check.h: `imagegen check`, and the responder's warning when it failed or never ran. */
#ifndef IMAGEGEN_CHECK_H
#define IMAGEGEN_CHECK_H

struct config;

int  check_command(const struct config *cfg, int argc, char **argv);
void check_warn(const struct config *cfg);

#endif
