/* spawn.h: start a job's worker or the reaper as a fully detached process. */
#ifndef IMAGEGEN_SPAWN_H
#define IMAGEGEN_SPAWN_H

int  spawn_worker(const char *case_id);
int  spawn_reaper(void);
void spawn_detach_fds(void);

#endif
