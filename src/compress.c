/*
 * compress.c: the image step on threads of its own. Decoding and
 * compressing a picture costs tens of milliseconds; done on the worker's
 * event loop it would hold back the next request and every answer behind
 * it. Tasks go in a queue; finished ones come back in another, and a byte
 * on a pipe wakes the loop's poll. Only the threads touch MagickWand's
 * wands, one wand per task; SQLite stays on the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compress.h"
#include "image.h"

struct compressor {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct compress_task *todo, *todo_tail, *done;
	int stop;
	int wake[2];		/* threads write, the loop polls */
	long size, quality;
	int64_t cpu_ns;		/* the threads' CPU time spent on tasks */
	int n_threads;
	pthread_t threads[];
};

static int64_t
thread_cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
run(struct compressor *c, struct compress_task *t)
{
	unsigned char *jpeg = NULL;
	size_t len = 0;
	t->rc = image_compress(t->in, t->in_len, c->size, c->quality, &jpeg, &len, t->err,
	    sizeof(t->err));
	free(t->in);
	t->in = NULL;
	if (t->rc == 0) {
		t->rc = image_write(t->mp.dir, t->mp.name, jpeg, len, t->err, sizeof(t->err));
		t->err_no = t->rc != 0 ? errno : 0;
		t->out_len = len;
	}
	if (t->rc == 0)
		t->out = jpeg;
	else
		free(jpeg);
}

static void *
thread_main(void *arg)
{
	struct compressor *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->todo == NULL && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->todo == NULL)
			break;
		struct compress_task *t = c->todo;
		if ((c->todo = t->next) == NULL)
			c->todo_tail = NULL;
		pthread_mutex_unlock(&c->mu);
		int64_t cpu = thread_cpu_ns();
		run(c, t);
		cpu = thread_cpu_ns() - cpu;
		pthread_mutex_lock(&c->mu);
		c->cpu_ns += cpu;
		t->next = c->done;
		c->done = t;
		/* The pipe is non-blocking: when full, the loop has wake-ups enough. */
		ssize_t n = write(c->wake[1], "", 1);
		(void)n;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* As many threads as CPUs, but no more than the requests that can be in flight. */
int
compressor_threads(long concurrency)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	return (int)(concurrency < cpus ? (concurrency < 1 ? 1 : concurrency) : cpus);
}

static int
open_pipe(int fds[2])
{
	if (pipe(fds) != 0)
		return -1;
	for (int i = 0; i < 2; i++)
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0 ||
		    fcntl(fds[i], F_SETFL, O_NONBLOCK) != 0)
			return -1;
	return 0;
}

struct compressor *
compressor_new(int threads, long size, long quality)
{
	struct compressor *c = calloc(1, sizeof(*c) + (size_t)threads * sizeof(pthread_t));
	if (c == NULL)
		return NULL;
	c->wake[0] = c->wake[1] = -1;
	c->size = size;
	c->quality = quality;
	if (pthread_mutex_init(&c->mu, NULL) != 0 || pthread_cond_init(&c->cv, NULL) != 0 ||
	    open_pipe(c->wake) != 0) {
		compressor_free(c);
		return NULL;
	}
	for (; c->n_threads < threads; c->n_threads++) {
		if ((errno = pthread_create(&c->threads[c->n_threads], NULL, thread_main, c))
		    != 0)
			break;
	}
	if (c->n_threads == 0) {
		compressor_free(c);
		return NULL;
	}
	return c;
}

int
compressor_submit(struct compressor *c, struct compress_task *t)
{
	t->next = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->todo_tail != NULL)
		c->todo_tail->next = t;
	else
		c->todo = t;
	c->todo_tail = t;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

int
compressor_fd(const struct compressor *c)
{
	return c->wake[0];
}

/* A finished task, or NULL when none is waiting; the caller frees it. */
struct compress_task *
compressor_take(struct compressor *c)
{
	char buf[64];
	while (read(c->wake[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&c->mu);
	struct compress_task *t = c->done;
	if (t != NULL)
		c->done = t->next;
	pthread_mutex_unlock(&c->mu);
	return t;
}

/* The CPU time the threads have spent on pictures so far: the benchmarks report it. */
long
compressor_cpu_ms(struct compressor *c)
{
	pthread_mutex_lock(&c->mu);
	long ms = (long)(c->cpu_ns / 1000000);
	pthread_mutex_unlock(&c->mu);
	return ms;
}

/* Finishes the tasks queued, then joins the threads; results not taken are dropped. */
void
compressor_free(struct compressor *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < c->n_threads; i++)
		pthread_join(c->threads[i], NULL);
	for (struct compress_task *t = c->done, *next; t != NULL; t = next) {
		next = t->next;
		free(t->in);
		free(t->out);
		free(t);
	}
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			close(c->wake[i]);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
