/* The REST API's sound (docs/broker.md, Sound): GET /vm/{id}/audio, a WAV
 * stream of one playback stream of the VM, read from its audio ring as the
 * snd device publishes periods; POST /vm/{id}/audio-input, a WAV body
 * pumped into a pipe the snd device reads as the guest's microphone. Runs in
 * the broker's loop and never waits there: a stream is an audio reader
 * whose eventfd the loop watches; a client that does not read loses periods
 * (counted) once REST_AUDIO_MAX_OUT bytes wait for it. UNTRUSTED(client):
 * the query and the body (wav_parse checks the header before anything goes
 * to the device). UNTRUSTED(snd process): the ring, read through
 * cellvm_audio_read only. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker_api.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/pcm.h"

#define REST_AUDIO_MAX_OUT     (512 * 1024) /* unread bytes before periods are lost */
#define REST_AUDIO_MAX_SECONDS 3600
#define REST_AUDIO_CONV_CHUNK  (64 * 1024)
#define REST_AUDIO_BATCH       32 /* periods per turn of the loop, then others' turn */

/* One GET audio stream: an audio reader of the VM, for one playback stream. */
struct rest_audio {
	struct stream *s;
	struct broker_vm *vm; /* outlives the stream: its teardown ends it */
	uint32_t boot;
	uint64_t id;
	int efd;
	struct event *ev;
	uint32_t want;	      /* the playback stream followed */
	bool limited;	      /* seconds= given: ends after frames_left frames */
	uint64_t frames_left; /* with limited */
	uint64_t next;	      /* the next serial to read */
	bool started;	      /* the WAV header is out: out is the stream's spec */
	struct pcm_spec out, in;
	struct pcm_conv conv;
	bool converting; /* in differs from out: conv runs */
	uint64_t lost_ring, lost_slow;
	uint8_t *pcm; /* one period, the ring's period_bytes */
	size_t pcm_cap;
	uint8_t *conv_buf;	/* REST_AUDIO_CONV_CHUNK */
	struct evbuffer *chunk; /* a chunk on its way (evhttp empties it) */
};

static void rest_audio_reply_err(struct rest_call *c, int status, enum api_err e, const char *msg)
{
	broker_api_rest_reply_error(c->req, status ? status : api_err_status(e), api_err_code(e),
				    msg);
}

/* GET audio's query: stream=S (a playback stream of the VM), seconds=N
 * (1..REST_AUDIO_MAX_SECONDS). */
static int rest_audio_query(struct evhttp_request *req, uint32_t nstreams, uint32_t *stream,
			    uint32_t *seconds, char *err, size_t errlen)
{
	const struct rest_query_key keys[] = {{"stream", 0, nstreams ? nstreams - 1 : 0},
					      {"seconds", 1, REST_AUDIO_MAX_SECONDS}};
	uint32_t v[2] = {0, 0}, seen;
	char usage[96];
	int r;

	snprintf(usage, sizeof(usage), "stream=0..%u (the VM's playback streams), seconds=1..%d",
		 keys[0].max, REST_AUDIO_MAX_SECONDS);
	r = broker_api_rest_query(req, keys, 2, usage, v, &seen, err, errlen);
	*stream = v[0];
	*seconds = v[1];
	return r;
}

/* Queue bytes for the client; they are the stream's whole frames. */
static void rest_audio_queue(struct rest_audio *a, const void *buf, size_t len)
{
	if (evbuffer_add(a->chunk, buf, len) == 0)
		evhttp_send_reply_chunk(a->s->req, a->chunk);
}

/* Bytes queued for the client that it has not read yet. */
static size_t rest_audio_unread(const struct rest_audio *a)
{
	return evbuffer_get_length(
		bufferevent_get_output(evhttp_connection_get_bufferevent(a->s->evcon)));
}

/* Queue a period's PCM (spec a->in), converted to the stream's spec,
 * cut at the frames still wanted. Returns true when the stream is done. */
static bool rest_audio_put(struct rest_audio *a, const uint8_t *pcm, size_t len)
{
	uint32_t fb = pcm_frame_bytes(&a->out);
	size_t used, n;

	while (len) {
		const uint8_t *chunk = pcm;

		if (a->converting) {
			n = pcm_conv_run(&a->conv, pcm, len, &used, a->conv_buf,
					 REST_AUDIO_CONV_CHUNK);
			if (!used && !n)
				break; /* a partial frame: nothing more comes out */
			chunk = a->conv_buf;
		} else {
			n = used = len;
		}
		pcm += used;
		len -= used;
		/* UNTRUSTED(snd process): a period converted to a much larger
		 * format must not queue without bound either. */
		if (rest_audio_unread(a) > REST_AUDIO_MAX_OUT) {
			a->lost_slow++;
			break;
		}
		if (a->limited && n / fb > a->frames_left)
			n = (size_t)a->frames_left * fb;
		if (n)
			rest_audio_queue(a, chunk, n);
		if (a->limited) {
			a->frames_left -= n / fb;
			if (!a->frames_left)
				return true;
		}
	}
	return false;
}

/* The first period of the stream: its spec is the WAV's. */
static int rest_audio_begin(struct rest_audio *a)
{
	uint8_t hdr[WAV_HEADER_MAX_BYTES];
	uint64_t data = WAV_SIZE_STREAMING;
	size_t n;

	a->out = a->in;
	if (a->limited) {
		a->frames_left *= a->out.rate;
		data = a->frames_left * pcm_frame_bytes(&a->out);
		if (data >= WAV_SIZE_STREAMING)
			data = WAV_SIZE_STREAMING; /* too long to say: a stream */
	}
	n = wav_header(hdr, &a->out, (uint32_t)data);
	if (!n)
		return -EINVAL;
	rest_audio_queue(a, hdr, n);
	a->started = true;
	return 0;
}

/* One period read from the ring (meta, a->pcm holding n bytes). Returns
 * true when the stream is done. */
static bool rest_audio_period(struct rest_audio *a, const struct cellvm_audio_period *meta,
			      size_t n)
{
	struct pcm_spec spec = {meta->format, meta->rate, meta->channels};

	if (meta->stream != a->want)
		return false;
	if (a->started && rest_audio_unread(a) > REST_AUDIO_MAX_OUT) {
		a->lost_slow++; /* the client does not read: this period is lost */
		return false;
	}
	if (memcmp(&spec, &a->in, sizeof(spec)) != 0 || !a->started) {
		a->in = spec;
		if (!a->started && rest_audio_begin(a) < 0)
			return true;
		a->converting = memcmp(&a->in, &a->out, sizeof(spec)) != 0;
		if (a->converting && pcm_conv_init(&a->conv, &a->in, &a->out) < 0)
			return true;
	}
	return rest_audio_put(a, a->pcm, n);
}

static void rest_audio_on_period(evutil_socket_t fd, short what, void *arg)
{
	struct rest_audio *a = arg;
	const void *map = a->vm->audio_ring;
	size_t size = a->vm->snd.ring_size;
	struct cellvm_audio_geometry g;
	struct cellvm_audio_period meta;
	uint64_t v, latest, oldest;
	long n;

	(void)what;
	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
	/* UNTRUSTED(snd process): checked on every call. */
	if (cellvm_audio_geometry_get(map, size, &g) < 0)
		return;
	latest = cellvm_audio_latest(map, size);
	if (latest + 1 < a->next)
		a->next = latest + 1; /* serials went back: not a ring we know */
	oldest = cellvm_audio_oldest(latest, g.nperiods);
	if (a->next < oldest) {
		a->lost_ring += oldest - a->next;
		a->next = oldest;
	}
	for (int k = 0; a->next <= latest; a->next++, k++) {
		if (k == REST_AUDIO_BATCH) {
			/* The rest in the loop's next turn: other clients first. */
			event_active(a->ev, EV_READ, 0);
			return;
		}
		n = cellvm_audio_read(map, size, a->next, &meta, a->pcm, a->pcm_cap);
		if (n < 0) {
			a->lost_ring++; /* overwritten, or a period that does not fit */
			continue;
		}
		if (rest_audio_period(a, &meta, (size_t)n)) {
			a->next++;
			rest_stream_end(a->s, false); /* frees a */
			return;
		}
	}
}

void rest_audio_free(struct stream *s)
{
	struct rest_audio *a = s->audio;

	if (!a)
		return;
	if (a->lost_ring || a->lost_slow)
		log_info("vm %s: an audio stream lost %llu periods (%llu overwritten in the ring, "
			 "%llu for a client that did not read)",
			 a->vm->id, (unsigned long long)(a->lost_ring + a->lost_slow),
			 (unsigned long long)a->lost_ring, (unsigned long long)a->lost_slow);
	if (a->ev)
		event_free(a->ev);
	if (a->efd >= 0)
		close(a->efd);
	broker_audio_unsubscribe(a->vm, a->boot, a->id);
	free(a->pcm);
	free(a->conv_buf);
	evbuffer_free(a->chunk);
	free(a);
	s->audio = NULL;
}

void rest_audio_vm_gone(struct broker *b, const struct broker_vm *vm)
{
	struct stream *s, *next;

	for (s = b->rest ? TAILQ_FIRST(&b->rest->streams) : NULL; s; s = next) {
		next = TAILQ_NEXT(s, link);
		if (s->kind == STREAM_AUDIO && s->audio && s->audio->vm == vm) {
			/* The device is gone with its readers: nothing to unsubscribe. */
			s->audio->boot = UINT32_MAX;
			rest_stream_end(s, false);
		}
	}
}

void rest_audio_get(struct rest_call *c, struct broker_vm *vm)
{
	struct cellvm_audio_geometry g;
	struct rest_audio *a = NULL;
	uint32_t stream, seconds;
	char err[256];
	enum api_err e;
	int fds[2] = {-1, -1};
	uint64_t id;
	struct stream *s;

	if (rest_audio_query(c->req, vm->def.snd_opt.playback, &stream, &seconds, err,
			     sizeof(err)) < 0) {
		rest_audio_reply_err(c, 0, API_INVALID_ARGUMENT, err);
		return;
	}
	/* No sound card, or not running: a conflict with the VM's state. */
	e = broker_audio_ready(vm, true, err, sizeof(err));
	if (e != API_OK) {
		rest_audio_reply_err(c, 409, e, err);
		return;
	}
	if (cellvm_audio_geometry_get(vm->audio_ring, vm->snd.ring_size, &g) < 0) {
		rest_audio_reply_err(c, 409, API_VM_BUSY, "the VM's audio ring is not ready");
		return;
	}
	a = calloc(1, sizeof(*a));
	if (a) {
		a->pcm_cap = g.period_bytes;
		a->pcm = malloc(a->pcm_cap);
		a->conv_buf = malloc(REST_AUDIO_CONV_CHUNK);
		a->chunk = evbuffer_new();
	}
	if (!a || !a->pcm || !a->conv_buf || !a->chunk) {
		rest_audio_reply_err(c, 0, API_INTERNAL, "out of memory");
		goto fail;
	}
	e = broker_audio_subscribe(vm, &id, fds, NULL, 0, err, sizeof(err));
	if (e != API_OK) {
		rest_audio_reply_err(c, 0, e, err);
		goto fail;
	}
	/* The ring's fd is for readers elsewhere: the broker has its mapping. */
	close(fds[0]);
	*a = (struct rest_audio){.vm = vm,
				 .boot = vm->boots,
				 .id = id,
				 .efd = fds[1],
				 .want = stream,
				 .limited = seconds != 0,
				 .frames_left = seconds,
				 .next = cellvm_audio_latest(vm->audio_ring, vm->snd.ring_size) + 1,
				 .pcm = a->pcm,
				 .pcm_cap = a->pcm_cap,
				 .conv_buf = a->conv_buf,
				 .chunk = a->chunk};
	a->ev = event_new(c->r->b->base, a->efd, EV_READ | EV_PERSIST, rest_audio_on_period, a);
	if (!a->ev || event_add(a->ev, NULL) < 0) {
		rest_audio_reply_err(c, 0, API_INTERNAL, "out of memory");
		goto fail_sub;
	}
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Cache-Control", "no-store");
	s = rest_stream_start(c, STREAM_AUDIO, "audio/wav");
	if (!s)
		goto fail_sub; /* answered */
	snprintf(s->vm_id, sizeof(s->vm_id), "%s", vm->id);
	s->audio = a;
	a->s = s;
	log_info("api: uid %u: vm %s: audio stream %u%s", (unsigned)c->uid, vm->id, stream,
		 seconds ? " (limited)" : "");
	return;
fail_sub:
	if (a->ev)
		event_free(a->ev);
	close(a->efd);
	broker_audio_unsubscribe(vm, vm->boots, id);
fail:
	if (a) {
		free(a->pcm);
		free(a->conv_buf);
		if (a->chunk)
			evbuffer_free(a->chunk);
	}
	free(a);
}

/* ---- POST audio-input ---- */

/* The body on its way into the pipe: the device reads at the guest's pace,
 * the loop writes what fits and waits for room. */
struct rest_audio_in {
	struct evhttp_request *req;
	struct evbuffer *body;
	int fd;
	struct event *ev, *deadline;
	char vm_id[BROKER_ID_LEN + 1];
};

static void rest_audio_in_done(struct rest_audio_in *p, int status, const char *code,
			       const char *msg)
{
	if (status == 204)
		evhttp_send_reply(p->req, 204, "No Content", NULL);
	else
		broker_api_rest_reply_error(p->req, status, code, msg);
	if (p->ev)
		event_free(p->ev);
	if (p->deadline)
		event_free(p->deadline);
	if (p->fd >= 0)
		close(p->fd); /* EOF: the device goes back to its own source */
	evbuffer_free(p->body);
	free(p);
}

static void rest_audio_in_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct rest_audio_in *p = arg;
	int n;

	if (what & EV_TIMEOUT) {
		log_warn("vm %s: the snd device did not take pushed sound in time", p->vm_id);
		rest_audio_in_done(p, 503, "VM_BUSY", "the VM's sound card did not take the sound");
		return;
	}
	while (evbuffer_get_length(p->body)) {
		n = evbuffer_write(p->body, fd);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!p->ev) {
				p->ev = event_new(event_get_base(p->deadline), fd,
						  EV_WRITE | EV_PERSIST, rest_audio_in_on_write, p);
				if (!p->ev || event_add(p->ev, NULL) < 0)
					break;
			}
			return;
		}
		break; /* EPIPE: the device dropped it (replaced, or the VM stopped) */
	}
	if (evbuffer_get_length(p->body))
		rest_audio_in_done(p, 503, "VM_BUSY", "the VM's sound card stopped reading");
	else
		rest_audio_in_done(p, 204, NULL, NULL);
}

void rest_audio_post(struct rest_call *c, struct broker_vm *vm)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	size_t len = evbuffer_get_length(in), hlen;
	uint8_t head[WAV_PARSE_MAX_BYTES];
	struct rest_audio_in *p;
	struct pcm_spec spec;
	uint64_t data;
	char err[256], why[160] = "";
	enum api_err e;
	int r, fd;

	/* UNTRUSTED(client): a WAV in a format the device reads, checked here
	 * so that a bad one is the client's 400, not a line in the device's
	 * log. The body is whole (evhttp's limit, REST_MAX_BODY). */
	hlen = len < sizeof(head) ? len : sizeof(head);
	evbuffer_copyout(in, head, hlen);
	r = wav_parse(head, hlen, &spec, &data, &hlen, why, sizeof(why));
	if (r < 0) {
		snprintf(err, sizeof(err), "the body is not a WAV we read: %s",
			 r == -EAGAIN ? "cut short" : why);
		rest_audio_reply_err(c, 0, API_INVALID_ARGUMENT, err);
		return;
	}
	/* No sound card, or not running: a conflict with the VM's state. */
	e = broker_audio_source(vm, &fd, err, sizeof(err));
	if (e != API_OK) {
		rest_audio_reply_err(c, 409, e, err);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (p)
		p->body = evbuffer_new();
	if (!p || !p->body || fd_set_nonblock(fd, 1) < 0) {
		if (p)
			free(p);
		close(fd);
		rest_audio_reply_err(c, 0, API_INTERNAL, "out of memory");
		return;
	}
	p->req = c->req;
	p->fd = fd;
	snprintf(p->vm_id, sizeof(p->vm_id), "%s", vm->id);
	evbuffer_add_buffer(p->body, in);
	/* Room for the whole body where the kernel allows it. */
	(void)fcntl(fd, F_SETPIPE_SZ, REST_MAX_BODY);
	p->deadline = evtimer_new(c->r->b->base, rest_audio_in_on_write, p);
	if (!p->deadline ||
	    evtimer_add(p->deadline, &(struct timeval){.tv_sec = c->r->b->client_timeout}) < 0) {
		rest_audio_in_done(p, 500, "INTERNAL", "out of memory");
		return;
	}
	log_info("api: uid %u: vm %s: audio input, %zu bytes", (unsigned)c->uid, vm->id, len);
	rest_audio_in_on_write(fd, EV_WRITE, p);
}
