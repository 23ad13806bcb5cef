/* intake.h: the FastCGI responder's connections, accepted and waited on until their requests are in. */
#ifndef IMAGEGEN_INTAKE_H
#define IMAGEGEN_INTAKE_H

#include <stdint.h>

struct config;
struct intake;

struct intake_conn {
	int fd;			/* blocking again; the taker's until intake_done */
	int64_t deadline;	/* ms: when its input must be in (input_timeout) */
	int whole;		/* its whole input has arrived, body included */
};

struct intake *intake_start(const struct config *cfg, int listen_fd, long threads,
	const void *stop_mask);
int  intake_take(struct intake *in, struct intake_conn *c);
void intake_done(struct intake *in, const struct intake_conn *c, int kept_fd);
void intake_wake(void);
int  intake_failed(const struct intake *in);
void intake_free(struct intake *in);

#endif
