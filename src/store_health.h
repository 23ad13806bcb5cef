/* store_health.h: a missing, cut, damaged, read-only or unwritable database, said out loud. */
#ifndef IMAGEGEN_STORE_HEALTH_H
#define IMAGEGEN_STORE_HEALTH_H

struct sqlite3;

void store_health_expect_new(void);
void store_health_preflight(const char *path);
void store_health_opened(struct sqlite3 *db, const char *path);
int  store_health_check(struct sqlite3 *db, const char *path);
int  store_health_note(int errcode, const char *path);
int  store_busy(void);
const char *store_unwritable(void);
void store_busy_reset(void);
void store_health_damaged(const char *path, const char *why);
int  store_damaged(void);
int  store_read_only(void);
const char *store_health_reason(void);
void store_health_write_ok(void);
const char *store_health_write_fault(void);

#endif
