/* The stderr of a VM's processes (cellvm-core, cellvm-dev-*) in cellvm-broker:
 * each has its own pipe (launcher_jail.log_pipe), read here by a libevent
 * event of the broker's loop, and every line comes out through the broker's
 * own log as "vm=ID WHO: LINE". Runs in the broker's loop. The bytes are
 * the process's: UNTRUSTED(core, device), escaped before they are logged, so
 * no process can write a line that reads as the broker's own (an audit
 * line), nor drown the log (a token bucket per process). */
#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/broker_childlog.h"
#include "common/log.h"

#define CHILDLOG_ROUNDS 16 /* reads of 4 KiB per event: one process cannot hold the loop */

struct broker_childlog {
	struct broker_childlog *next, **pprev;
	struct broker *b;
	int fd;
	struct event *ev, *timer;
	char vm_id[BROKER_ID_LEN + 1];
	char who[16];
	struct broker_childlog_line line;
	struct broker_childlog_bucket bucket;
};

/* ---- the pure parts (broker_childlog.h): no fds, no clock of their own ---- */

void broker_childlog_line_reset(struct broker_childlog_line *l)
{
	l->len = 0;
	l->cut = false;
}

size_t broker_childlog_line_feed(struct broker_childlog_line *l, const uint8_t *buf, size_t n,
				 bool *ret_done)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			*ret_done = true;
			return i + 1;
		}
		if (l->len < sizeof(l->buf))
			l->buf[l->len++] = (char)buf[i];
		else
			l->cut = true;
	}
	*ret_done = false;
	return n;
}

size_t broker_childlog_line_format(const struct broker_childlog_line *l, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	assert(outsz >= CHILDLOG_OUT && l->len <= CHILDLOG_LINE);
	/* UNTRUSTED(core, device): only printable ASCII passes; a control
	 * character (a newline, an escape sequence), a byte over 0x7e and the
	 * backslash itself come out as \xNN. */
	for (size_t i = 0; i < l->len; i++) {
		uint8_t ch = (uint8_t)l->buf[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			out[o++] = (char)ch;
			continue;
		}
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[ch >> 4];
		out[o++] = hex[ch & 0xf];
	}
	if (l->cut) {
		memcpy(out + o, " [cut]", sizeof(" [cut]") - 1);
		o += sizeof(" [cut]") - 1;
	}
	out[o] = '\0';
	return o;
}

void broker_childlog_bucket_init(struct broker_childlog_bucket *k, uint64_t now_ns)
{
	k->tokens = CHILDLOG_BURST;
	k->last_ns = now_ns;
	k->dropped = 0;
}

bool broker_childlog_bucket_ready(struct broker_childlog_bucket *k, uint64_t now_ns)
{
	if (now_ns > k->last_ns) {
		k->tokens += (double)(now_ns - k->last_ns) * CHILDLOG_RATE / 1e9;
		if (k->tokens > CHILDLOG_BURST)
			k->tokens = CHILDLOG_BURST;
		k->last_ns = now_ns;
	}
	return k->tokens >= 1;
}

bool broker_childlog_bucket_take(struct broker_childlog_bucket *k, uint64_t now_ns)
{
	if (!broker_childlog_bucket_ready(k, now_ns)) {
		k->dropped++;
		return false;
	}
	k->tokens -= 1;
	return true;
}

double broker_childlog_bucket_wait_s(const struct broker_childlog_bucket *k)
{
	return k->tokens >= 1 ? 0 : (1 - k->tokens) / CHILDLOG_RATE;
}

uint64_t broker_childlog_bucket_take_dropped(struct broker_childlog_bucket *k)
{
	uint64_t n = k->dropped;

	k->dropped = 0;
	return n;
}

/* ---- in the broker's loop ---- */

static uint64_t childlog_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void childlog_report_dropped(struct broker_childlog *c)
{
	uint64_t n = broker_childlog_bucket_take_dropped(&c->bucket);

	if (!n)
		return;
	log_warn("vm=%s %s: (%llu lines dropped: more than %d lines a second)", c->vm_id, c->who,
		 (unsigned long long)n, CHILDLOG_RATE);
}

static void childlog_arm_timer(struct broker_childlog *c)
{
	double wait = broker_childlog_bucket_wait_s(&c->bucket);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 1000};

	if (wait > 0)
		tv.tv_usec = (suseconds_t)(wait * 1e6) + 1000;
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec = tv.tv_usec / 1000000;
		tv.tv_usec %= 1000000;
	}
	if (c->timer && !evtimer_pending(c->timer, NULL))
		evtimer_add(c->timer, &tv);
}

/* When the bucket has a token again: say how many lines went. */
static void childlog_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct broker_childlog *c = arg;

	(void)fd;
	(void)what;
	if (!c->bucket.dropped)
		return;
	if (broker_childlog_bucket_ready(&c->bucket, childlog_now_ns())) {
		(void)broker_childlog_bucket_take(&c->bucket, c->bucket.last_ns);
		childlog_report_dropped(c);
	} else {
		childlog_arm_timer(c); /* a line that came through took the token */
	}
}

/* The line gathered in c: out through the log, or counted as dropped. */
static void childlog_emit(struct broker_childlog *c)
{
	char esc[CHILDLOG_OUT];

	if (!broker_childlog_bucket_take(&c->bucket, childlog_now_ns())) {
		childlog_arm_timer(c);
		return;
	}
	childlog_report_dropped(c);
	broker_childlog_line_format(&c->line, esc, sizeof(esc));
	log_warn("vm=%s %s: %s", c->vm_id, c->who, esc);
}

static void childlog_feed(struct broker_childlog *c, const uint8_t *buf, size_t n)
{
	bool done;

	while (n) {
		size_t k = broker_childlog_line_feed(&c->line, buf, n, &done);
		buf += k;
		n -= k;
		if (done) {
			childlog_emit(c);
			broker_childlog_line_reset(&c->line);
		}
	}
}

static void childlog_free(struct broker_childlog *c)
{
	if (c->line.len || c->line.cut)
		childlog_emit(c); /* a last line without its newline */
	childlog_report_dropped(c);
	if (c->ev)
		event_free(c->ev);
	if (c->timer)
		event_free(c->timer);
	close(c->fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	free(c);
}

/* Read at most rounds times (0: until the pipe is empty). Returns false when
 * the pipe is done (EOF, or an error): c is freed then. */
static bool childlog_drain(struct broker_childlog *c, unsigned rounds)
{
	uint8_t buf[4096];
	ssize_t n;

	for (;;) {
		n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			childlog_feed(c, buf, (size_t)n);
			if (rounds && !--rounds)
				return true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		childlog_free(c);
		return false;
	}
}

static void childlog_on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)childlog_drain(arg, CHILDLOG_ROUNDS);
}

int broker_childlog_watch(struct broker *b, const char *vm_id, const char *who, int *log)
{
	struct broker_childlog *c;

	if (*log <= 0)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(*log);
		*log = -1;
		return -ENOMEM;
	}
	c->b = b;
	c->fd = *log;
	*log = -1;
	snprintf(c->vm_id, sizeof(c->vm_id), "%s", vm_id);
	snprintf(c->who, sizeof(c->who), "%s", who);
	broker_childlog_bucket_init(&c->bucket, childlog_now_ns());
	c->next = b->childlogs;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &b->childlogs;
	b->childlogs = c;
	c->ev = event_new(b->base, c->fd, EV_READ | EV_PERSIST, childlog_on_read, c);
	c->timer = evtimer_new(b->base, childlog_on_timer, c);
	if (!c->ev || !c->timer || event_add(c->ev, NULL) < 0) {
		childlog_free(c);
		return -ENOMEM;
	}
	return 0;
}

int broker_childlog_watch_dev(struct broker_vm_device *d)
{
	size_t n =
		d->def_index < d->vm->def.ndisks ? d->def_index : d->def_index - d->vm->def.ndisks;
	char who[16];

	snprintf(who, sizeof(who), "%s%zu", d->kind, n);
	return broker_childlog_watch(d->vm->b, d->vm->id, who, &d->proc.log);
}

int broker_childlog_watch_vm(struct broker_vm *vm)
{
	int r = broker_childlog_watch(vm->b, vm->id, "core", &vm->core.log);

	for (size_t i = 0; i < vm->ndevs; i++) {
		int k = broker_childlog_watch_dev(&vm->devs[i]);
		if (k < 0)
			r = k;
	}
	return r < 0 ? r : 0;
}

void broker_childlog_free_all(struct broker *b)
{
	while (b->childlogs) {
		struct broker_childlog *c = b->childlogs;
		/* Bounded: a child that still writes must not hold the exit. */
		if (childlog_drain(c, 64))
			childlog_free(c);
	}
}
