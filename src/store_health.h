/*
 * store_health.h: a missing, cut, damaged, read-only or unwritable
 * database, said out loud; what the rest of the program asks of it. The
 * SQLite engine's own part is in store_int.h.
 */
#ifndef IMAGEGEN_STORE_HEALTH_H
#define IMAGEGEN_STORE_HEALTH_H

int  store_damaged(void);
int  store_read_only(void);
const char *store_health_reason(void);
const char *store_health_write_fault(void);
void store_health_expect_new(void);

#endif
