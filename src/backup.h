/* backup.h: imagegen backup FILE, a consistent copy of the database. */
#ifndef IMAGEGEN_BACKUP_H
#define IMAGEGEN_BACKUP_H

struct config;

int backup_run(const struct config *cfg, const char *file);

#endif
