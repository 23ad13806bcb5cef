/*
 * intake.c: the FastCGI responder's front door. A request is of no use
 * until its parameters have arrived, and a client may send them slowly,
 * or never: read by a serving thread, as libfcgi's accept does, each such
 * client held a thread, and as many as there are threads held every route
 * (any process allowed on the socket can be such a client). Here one
 * thread accepts every connection and waits on all of them with epoll,
 * without a thread each, until the request is in the socket's buffer: it
 * looks at it there (MSG_PEEK), so that libfcgi still reads the request
 * itself, from its first byte. A connection whose parameters are not in
 * within input_timeout is closed; one whose body is not goes to a serving
 * thread then, to be answered 408 at once. A request too large to wait
 * for in the buffer (PEEK_MAX) goes to a serving thread once its
 * parameters are in, and that thread reads the rest until the same
 * deadline (request.c); but such requests hold all the threads but one at
 * most: the last serves requests that have all arrived, a status poll for
 * one. FastCGI 1.0 (fastcgi-archives.github.io): records of an 8-byte
 * header, BEGIN_REQUEST, then PARAMS and STDIN, each stream ended by a
 * record of no content.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "codec.h"
#include "config.h"
#include "intake.h"
#include "log.h"

#define PEEK_MAX (64 * 1024)	/* more than nginx's parameters; a body may not fit */
#define PENDING_MAX 256		/* connections waited on at once; the rest wait in the backlog */
#define FCGI_PARAMS 4
#define FCGI_STDIN 5

struct conn {
	int fd;
	int64_t deadline;
	int whole;
	int params_in;		/* its parameters have arrived, not all its body */
	int watched;		/* in the epoll set */
	struct conn *prev, *next;
};

struct list {
	struct conn *head, *tail;
};

struct intake {
	const struct config *cfg;
	const sigset_t *stop_mask;
	int listen_fd, epoll_fd;
	int listening;		/* the listening socket is in the epoll set */
	int64_t listen_after;	/* ... or left out until then, after EMFILE */
	pthread_t thread;
	int started;
	struct list pending;	/* the intake thread's, oldest deadline first */
	size_t n_pending;
	pthread_mutex_t mu;	/* guards the rest */
	pthread_cond_t cv;
	struct list ready;	/* for the serving threads */
	struct list kept;	/* back from them, for their next request */
	long threads, partial;	/* serving threads; those reading a body still coming */
	int stopping;
	int failed;		/* the listening socket failed */
	unsigned char buf[PEEK_MAX];
};

static int wake_fd = -1;	/* an eventfd: a signal handler may write it */
static atomic_int stop_asked;

static void
push(struct list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
unlink_conn(struct list *l, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

/* The signal handler's: async-signal-safe, a flag and a write. */
void
intake_wake(void)
{
	static const uint64_t one = 1;
	atomic_store(&stop_asked, 1);
	if (wake_fd >= 0)
		(void)!write(wake_fd, &one, sizeof(one));
}

static void
nudge(void)
{
	static const uint64_t one = 1;
	(void)!write(wake_fd, &one, sizeof(one));
}

/*
 * How far a request has arrived: 1 whole, its STDIN ended; 0 its
 * parameters in, its body not yet; -1 not even they; -2 not FastCGI.
 */
static int
arrived(const unsigned char *b, size_t n)
{
	int params = 0;
	size_t off = 0;
	while (off + 8 <= n) {
		size_t len = (size_t)b[off + 4] << 8 | b[off + 5], pad = b[off + 6];
		if (b[off] != 1)
			return -2;
		if (off + 8 + len + pad > n)
			break;
		if (b[off + 1] == FCGI_PARAMS && len == 0)
			params = 1;
		else if (b[off + 1] == FCGI_STDIN && len == 0 && params)
			return 1;
		off += 8 + len + pad;
	}
	return params ? 0 : -1;
}

static void
drop(struct intake *in, struct conn *c, const char *why)
{
	log_debug("intake: connection %d closed: %s", c->fd, why);
	close(c->fd);
	free(c);
	in->n_pending--;
}

/*
 * A request that has arrived goes to the serving threads. Its fd stays
 * blocking throughout: the intake only peeks, with MSG_DONTWAIT.
 */
static void
hand_over(struct intake *in, struct conn *c, int whole)
{
	if (c->watched)
		epoll_ctl(in->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	in->n_pending--;
	c->whole = whole;
	pthread_mutex_lock(&in->mu);
	push(&in->ready, c);
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
}

/*
 * Looks at what a pending connection has sent: it stays pending until its
 * request is in, or fills the buffer, then goes to the serving threads;
 * closed, or not FastCGI, it is dropped. 0 while it stays pending, 1 once
 * it is gone.
 */
static int
look(struct intake *in, struct conn *c)
{
	ssize_t n = recv(c->fd, in->buf, sizeof(in->buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	int state = n > 0 ? arrived(in->buf, (size_t)n) : -3, full = n == PEEK_MAX;
	c->params_in = state == 0;
	if ((state == 0 || state == -1) && !full)
		return 0;
	unlink_conn(&in->pending, c);
	if (state >= -1)
		hand_over(in, c, state == 1);
	else
		drop(in, c, state == -2 ? "not FastCGI" : "closed before its request was in");
	return 1;
}

static void
watch(struct intake *in, int fd, void *ptr, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(in->epoll_fd, op, fd, &ev) != 0)
		log_error("intake: epoll_ctl: %s", strerror(errno));
}

/*
 * A new connection, or a kept one back: waited on until input_timeout.
 * Its request is often in already (nginx writes it as it connects), and
 * goes on without entering the epoll set. Else it enters it: adding a
 * descriptor reports what is in its buffer by then, and the edges after.
 */
static void
wait_on(struct intake *in, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->deadline = codec_now_ms() + in->cfg->input_timeout * 1000;
	in->n_pending++;
	push(&in->pending, c);
	if (look(in, c) == 0) {
		c->watched = 1;
		watch(in, fd, c, EPOLLIN | EPOLLRDHUP | EPOLLET, EPOLL_CTL_ADD);
	}
}

/* FCGI_WEB_SERVER_ADDRS, as libfcgi's own accept honours it: IPv4 peers only. */
static int
peer_allowed(int fd)
{
	const char *list = getenv("FCGI_WEB_SERVER_ADDRS");
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char ip[INET_ADDRSTRLEN];
	if (list == NULL || getpeername(fd, (struct sockaddr *)&sa, &len) != 0 ||
	    sa.sin_family != AF_INET)
		return 1;
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	for (const char *p = list; *p != '\0'; p += strspn(p, ", ")) {
		size_t n = strcspn(p, ", ");
		if (n == strlen(ip) && strncmp(p, ip, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* Every connection waiting in the backlog, up to PENDING_MAX waited on. */
static void
accept_all(struct intake *in)
{
	while (in->n_pending < PENDING_MAX) {
		int fd = accept4(in->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			if (peer_allowed(fd))
				wait_on(in, fd);
			else
				close(fd);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_warn("intake: accept: %s; accepting again in a second", strerror(errno));
			in->listen_after = codec_now_ms() + 1000;
			break;
		}
		log_error("intake: accept: %s", strerror(errno));
		in->failed = 1;
		atomic_store(&stop_asked, 1);
		return;
	}
	/* Full: the listening socket is left out until a connection goes. */
	watch(in, in->listen_fd, in, 0, EPOLL_CTL_MOD);
	in->listening = 0;
}

static void
expire(struct intake *in, int64_t now)
{
	struct conn *c;
	while ((c = in->pending.head) != NULL && c->deadline <= now) {
		unlink_conn(&in->pending, c);
		if (c->params_in) {
			/* Quick to serve: its body is read no longer, and answered 408. */
			log_debug("intake: connection %d: its body was not in within input_timeout",
			    c->fd);
			hand_over(in, c, 1);
		} else {
			drop(in, c, "its request was not in within input_timeout");
		}
	}
}

/* Connections the serving threads kept open (FCGI_KEEP_CONN), for their next request. */
static void
take_kept(struct intake *in, int stopping)
{
	uint64_t n;
	(void)!read(wake_fd, &n, sizeof(n));
	pthread_mutex_lock(&in->mu);
	struct conn *c = in->kept.head;
	in->kept.head = in->kept.tail = NULL;
	pthread_mutex_unlock(&in->mu);
	while (c != NULL) {
		struct conn *next = c->next;	/* the list is detached: no unlinking */
		int fd = c->fd;
		free(c);
		if (!stopping)
			wait_on(in, fd);
		else
			close(fd);
		c = next;
	}
}

/*
 * On a stop, no connection is accepted any more (the next responder on
 * the socket takes them), but those accepted are still waited on, and
 * served once their requests are in: a stop loses no request.
 */
static void
stop_listening(struct intake *in)
{
	if (epoll_ctl(in->epoll_fd, EPOLL_CTL_DEL, in->listen_fd, NULL) != 0 && errno != ENOENT)
		log_error("intake: epoll_ctl: %s", strerror(errno));
	in->listening = 0;
	in->listen_after = INT64_MAX;
}

static void *
intake_thread(void *arg)
{
	struct intake *in = arg;
	struct epoll_event ev[64];
	int stopping = 0;
	while (!stopping || in->n_pending > 0) {
		int64_t now = codec_now_ms();
		if (!stopping && atomic_load(&stop_asked)) {
			stopping = 1;
			stop_listening(in);
		}
		expire(in, now);
		if (!in->listening && in->n_pending < PENDING_MAX && now >= in->listen_after) {
			watch(in, in->listen_fd, in, EPOLLIN, EPOLL_CTL_MOD);
			in->listening = 1;
		}
		int64_t wait = in->pending.head ? in->pending.head->deadline - now : 60000;
		if (!in->listening && in->listen_after > now && in->listen_after - now < wait)
			wait = in->listen_after - now;
		int n = epoll_pwait(in->epoll_fd, ev, 64, wait > 60000 ? 60000 : (int)wait,
		    in->stop_mask);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == in)
				accept_all(in);
			else if (ev[i].data.ptr == NULL)
				take_kept(in, stopping);
			else
				look(in, ev[i].data.ptr);
		}
	}
	pthread_mutex_lock(&in->mu);
	in->stopping = 1;
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

/* The listening socket is shared by every responder on it: none blocks in accept. */
struct intake *
intake_start(const struct config *cfg, int listen_fd, long threads, const void *stop_mask)
{
	struct intake *in = calloc(1, sizeof(*in));
	int fl = fcntl(listen_fd, F_GETFL);
	if (in == NULL)
		return NULL;
	in->cfg = cfg;
	in->stop_mask = stop_mask;
	in->listen_fd = listen_fd;
	in->threads = threads;
	in->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->cv, NULL);
	if (in->epoll_fd < 0 || wake_fd < 0 || fl < 0 ||
	    fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		log_error("intake: cannot set up: %s", strerror(errno));
		intake_free(in);
		return NULL;
	}
	watch(in, wake_fd, NULL, EPOLLIN, EPOLL_CTL_ADD);
	watch(in, listen_fd, in, EPOLLIN, EPOLL_CTL_ADD);
	in->listening = 1;
	int err = pthread_create(&in->thread, NULL, intake_thread, in);
	if (err != 0) {
		log_error("intake: cannot start its thread: %s", strerror(err));
		intake_free(in);
		return NULL;
	}
	in->started = 1;
	return in;
}

/* The first request a thread may serve: a body still coming takes all threads but one. */
static struct conn *
first_for_me(struct intake *in)
{
	for (struct conn *c = in->ready.head; c != NULL; c = c->next)
		if (c->whole || in->threads < 2 || in->partial < in->threads - 1) {
			unlink_conn(&in->ready, c);
			return c;
		}
	return NULL;
}

/* Waits for a request to serve: 0 with it, -1 once the responder stops and none is left. */
int
intake_take(struct intake *in, struct intake_conn *out)
{
	struct conn *c;
	pthread_mutex_lock(&in->mu);
	while ((c = first_for_me(in)) == NULL && !(in->stopping && in->ready.head == NULL))
		pthread_cond_wait(&in->cv, &in->mu);
	if (c != NULL && !c->whole)
		in->partial++;
	pthread_mutex_unlock(&in->mu);
	if (c == NULL)
		return -1;
	out->fd = c->fd;
	out->deadline = c->deadline;
	out->whole = c->whole;
	free(c);
	return 0;
}

/* A request served: kept_fd, when the client keeps the connection, waits for its next. */
void
intake_done(struct intake *in, const struct intake_conn *c, int kept_fd)
{
	struct conn *k = kept_fd >= 0 ? calloc(1, sizeof(*k)) : NULL;
	int queued = 0;
	pthread_mutex_lock(&in->mu);
	if (!c->whole)
		in->partial--;
	if (k != NULL && !in->stopping) {
		k->fd = kept_fd;
		push(&in->kept, k);
		queued = 1;
	}
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
	if (queued) {
		nudge();
	} else {
		free(k);
		if (kept_fd >= 0)
			close(kept_fd);
	}
}

int
intake_failed(const struct intake *in)
{
	return in->failed;
}

void
intake_free(struct intake *in)
{
	if (in == NULL)
		return;
	if (in->started) {
		intake_wake();
		pthread_join(in->thread, NULL);
	}
	for (struct conn *c = in->ready.head, *n; c != NULL; c = n) {
		n = c->next;
		close(c->fd);
		free(c);
	}
	for (struct conn *c = in->kept.head, *n; c != NULL; c = n) {
		n = c->next;
		close(c->fd);
		free(c);
	}
	if (in->epoll_fd >= 0)
		close(in->epoll_fd);
	pthread_mutex_destroy(&in->mu);
	pthread_cond_destroy(&in->cv);
	free(in);
}
