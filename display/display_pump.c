/* The pump: one thread between every client's socket (the "real" one the
 * parent handed over) and the socketpair end libvncserver serves instead.
 * libvncserver writes with a blocking loop that waits (in 5-second steps)
 * for a client that does not read, which would stall every other client
 * and the control channel; here its writes go into a socketpair this thread
 * drains at once into a queue of its own per client, bounded: a client that
 * lets its queue pass the bound is dropped, alone. For a RESUMED client it
 * also drops what libvncserver writes before its SecurityResult (version
 * and security types: the parent ran that part with the client). Runs in
 * cellvm-display; the bytes from clients are untrusted and only copied. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "display/display.h"

#define PUMP_IN_BUF 65536
#define PUMP_CHUNK  262144

enum pump_discard {
	PUMP_PASS,    /* forward everything */
	PUMP_VERSION, /* drop libvncserver's 12-byte ProtocolVersion */
	PUMP_NTYPES,  /* drop the count of security types */
	PUMP_TYPES,   /* drop that many types */
};

struct pump_conn;

/* One end of a connection in the epoll set (the tag tells which). */
struct pump_end {
	struct pump_conn *c;
	bool inner;
};

struct pump_conn {
	struct pump_end real_end, inner_end;
	int real, inner;
	/* real -> inner: what the client sent, not yet taken by libvncserver */
	uint8_t in[PUMP_IN_BUF];
	size_t in_len, in_off;
	bool real_eof; /* the client finished sending */
	/* inner -> real: what libvncserver wrote, not yet taken by the client */
	uint8_t *q;
	size_t q_len, q_off, q_cap;
	bool inner_eof;	      /* libvncserver closed its end: flush, then go */
	bool inner_unwatched; /* and its end is out of the epoll set */
	enum pump_discard discard;
	size_t discard_left;
	struct pump_conn *next;
};

struct display_pump {
	int epfd, wake;
	size_t queue_max;
	pthread_t thread;
	pthread_mutex_t lock;
	struct pump_conn *incoming; /* handed over, not yet in the epoll set */
	struct pump_conn *conns;    /* the thread's own */
	_Atomic uint64_t bytes;	    /* written to clients */
};

static void pump_free(struct display_pump *p, struct pump_conn *c)
{
	struct pump_conn **pp;

	for (pp = &p->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	/* Closing removes them from the epoll set; libvncserver sees EOF on
	 * its end and drops the client. */
	close(c->real);
	close(c->inner);
	free(c->q);
	free(c);
}

static int pump_watch(struct display_pump *p, struct pump_conn *c, int op)
{
	struct epoll_event ev = {0};

	ev.data.ptr = &c->real_end;
	ev.events = (c->in_len == 0 && !c->real_eof ? EPOLLIN : 0) |
		    (c->q_len > c->q_off ? EPOLLOUT : 0);
	if (epoll_ctl(p->epfd, op, c->real, &ev) < 0)
		return -errno;
	if (c->inner_unwatched)
		return 0;
	ev.data.ptr = &c->inner_end;
	ev.events = EPOLLIN | (c->in_len > 0 ? EPOLLOUT : 0);
	if (c->inner_eof) {
		/* libvncserver is done: its end would report HUP on every wait
		 * while the queue drains to the viewer. */
		c->inner_unwatched = true;
		return epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->inner, NULL) < 0 ? -errno : 0;
	}
	if (epoll_ctl(p->epfd, op, c->inner, &ev) < 0)
		return -errno;
	return 0;
}

/* Drop the handshake bytes a RESUMED client must not see; returns how many
 * of buf[0..len) were dropped. */
static size_t pump_discard(struct pump_conn *c, const uint8_t *buf, size_t len, bool *ret_bad)
{
	size_t used = 0;

	while (used < len && c->discard != PUMP_PASS) {
		if (c->discard == PUMP_NTYPES) {
			c->discard_left = buf[used++];
			/* 0 types: libvncserver refuses (a reason follows). */
			if (c->discard_left == 0)
				*ret_bad = true;
			c->discard = PUMP_TYPES;
			continue;
		}
		size_t n = len - used < c->discard_left ? len - used : c->discard_left;
		used += n;
		c->discard_left -= n;
		if (c->discard_left == 0)
			c->discard = c->discard == PUMP_VERSION ? PUMP_NTYPES : PUMP_PASS;
	}
	return used;
}

/* libvncserver wrote: take all of it into the queue. -errno drops. */
static int pump_from_inner(struct display_pump *p, struct pump_conn *c)
{
	uint8_t buf[PUMP_CHUNK / 4];

	for (;;) {
		ssize_t n = read(c->inner, buf, sizeof(buf));
		size_t skip;
		bool bad = false;

		if (n == 0) {
			c->inner_eof = true;
			return 0;
		}
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		skip = pump_discard(c, buf, (size_t)n, &bad);
		if (bad)
			return -EPROTO;
		if (c->q_len - c->q_off + ((size_t)n - skip) > p->queue_max)
			return -ENOBUFS; /* a client that does not read: it goes */
		if (c->q_off && c->q_off == c->q_len)
			c->q_off = c->q_len = 0;
		if (c->q_len + ((size_t)n - skip) > c->q_cap) {
			size_t cap = c->q_cap ? c->q_cap : PUMP_CHUNK;
			uint8_t *q;

			if (c->q_off) {
				memmove(c->q, c->q + c->q_off, c->q_len - c->q_off);
				c->q_len -= c->q_off;
				c->q_off = 0;
			}
			while (cap < c->q_len + ((size_t)n - skip))
				cap *= 2;
			if (cap != c->q_cap) {
				q = realloc(c->q, cap);
				if (!q)
					return -ENOMEM;
				c->q = q;
				c->q_cap = cap;
			}
		}
		if ((size_t)n == skip)
			continue;
		memcpy(c->q + c->q_len, buf + skip, (size_t)n - skip);
		c->q_len += (size_t)n - skip;
	}
}

static int pump_to_real(struct display_pump *p, struct pump_conn *c)
{
	while (c->q_off < c->q_len) {
		ssize_t n = send(c->real, c->q + c->q_off, c->q_len - c->q_off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->q_off += (size_t)n;
		atomic_fetch_add_explicit(&p->bytes, (uint64_t)n, memory_order_relaxed);
	}
	c->q_off = c->q_len = 0;
	return 0;
}

static int pump_from_real(struct pump_conn *c)
{
	ssize_t n;

	if (c->in_len)
		return 0;
	n = read(c->real, c->in, sizeof(c->in));
	if (n == 0) {
		/* The client is done sending: libvncserver reads EOF. */
		c->real_eof = true;
		shutdown(c->inner, SHUT_WR);
		return 0;
	}
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	c->in_len = (size_t)n;
	c->in_off = 0;
	return 0;
}

static int pump_to_inner(struct pump_conn *c)
{
	while (c->in_off < c->in_len) {
		ssize_t n = send(c->inner, c->in + c->in_off, c->in_len - c->in_off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->in_off += (size_t)n;
	}
	c->in_len = c->in_off = 0;
	return 0;
}

static void pump_take_incoming(struct display_pump *p)
{
	struct pump_conn *list, *c;
	uint64_t v;

	(void)!read(p->wake, &v, sizeof(v));
	pthread_mutex_lock(&p->lock);
	list = p->incoming;
	p->incoming = NULL;
	pthread_mutex_unlock(&p->lock);
	while (list) {
		c = list;
		list = c->next;
		c->next = p->conns;
		p->conns = c;
		if (pump_watch(p, c, EPOLL_CTL_ADD) < 0)
			pump_free(p, c);
	}
}

static void *pump_run(void *arg)
{
	struct display_pump *p = arg;
	struct epoll_event evs[32];

	for (;;) {
		int n = epoll_wait(p->epfd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("display pump: epoll_wait: %s", strerror(errno));
			_exit(1);
		}
		for (int i = 0; i < n; i++) {
			struct pump_end *e = evs[i].data.ptr;
			struct pump_conn *c;
			int r = 0;

			if (!e) {
				pump_take_incoming(p);
				continue;
			}
			c = e->c;
			/* Each wake does every direction of the connection that
			 * can move: simpler than tracking which end it was. */
			r = pump_from_real(c);
			if (r >= 0)
				r = pump_to_inner(c);
			if (r >= 0)
				r = pump_from_inner(p, c);
			if (r >= 0)
				r = pump_to_real(p, c);
			if (r >= 0 && c->inner_eof && c->q_off == c->q_len)
				r = -ECONNRESET; /* libvncserver is done with it */
			/* The viewer hung up both ways (or failed): what it sent is
			 * with libvncserver, nothing can reach it any more. */
			if (r >= 0 && (evs[i].events & (EPOLLHUP | EPOLLERR)) && !e->inner)
				r = -EPIPE;
			if (r >= 0)
				r = pump_watch(p, c, EPOLL_CTL_MOD);
			if (r < 0) {
				/* Later events of this batch may name c: clear them. */
				for (int j = i + 1; j < n; j++) {
					struct pump_end *o = evs[j].data.ptr;
					if (o && o->c == c)
						evs[j].data.ptr = NULL, evs[j].events = 0;
				}
				pump_free(p, c);
			}
		}
	}
	return NULL;
}

struct display_pump *display_pump_start(size_t queue_max, int *ret_err)
{
	struct display_pump *p = calloc(1, sizeof(*p));
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	int r;

	if (!p) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	p->queue_max = queue_max;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->epfd < 0 || p->wake < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wake, &ev) < 0) {
		*ret_err = -errno;
		goto fail;
	}
	pthread_mutex_init(&p->lock, NULL);
	r = pthread_create(&p->thread, NULL, pump_run, p);
	if (r != 0) {
		*ret_err = -r;
		goto fail;
	}
	return p;
fail:
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->wake >= 0)
		close(p->wake);
	free(p);
	return NULL;
}

int display_pump_add(struct display_pump *p, int real, int inner, bool discard_handshake)
{
	struct pump_conn *c = calloc(1, sizeof(*c));
	uint64_t one = 1;

	if (!c) {
		close(real);
		close(inner);
		return -ENOMEM;
	}
	c->real = real;
	c->inner = inner;
	c->real_end = (struct pump_end){.c = c, .inner = false};
	c->inner_end = (struct pump_end){.c = c, .inner = true};
	if (discard_handshake) {
		c->discard = PUMP_VERSION;
		c->discard_left = 12; /* sz_rfbProtocolVersionMsg */
	}
	pthread_mutex_lock(&p->lock);
	c->next = p->incoming;
	p->incoming = c;
	pthread_mutex_unlock(&p->lock);
	if (write(p->wake, &one, sizeof(one)) != sizeof(one))
		return -errno; /* never: the counter cannot overflow here */
	return 0;
}

uint64_t display_pump_bytes(const struct display_pump *p)
{
	return atomic_load_explicit(&p->bytes, memory_order_relaxed);
}
