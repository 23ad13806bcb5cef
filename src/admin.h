/* admin.h: the operator's subcommands. */
#ifndef IMAGEGEN_ADMIN_H
#define IMAGEGEN_ADMIN_H

struct config;

int admin_command(const struct config *cfg, int argc, char **argv);

#endif
