/* cellctl's sound commands: record-audio (RPC AudioCapture: the VM's audio
 * ring read-only and an eventfd, followed with proto/audio_ring.h's checked
 * reader, periods of one playback stream written to a WAV file) and
 * play-audio (RPC AudioInput: a WAV file, checked with wav_parse, streamed
 * into the pipe the VM's snd device reads). UNTRUSTED: the ring (written by
 * a sandboxed process that runs guest-driven code) and the WAV file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cellctl/cellctl.h"
#include "common/fdutil.h"
#include "common/parse.h"
#include "common/pcm.h"
#include "proto/channel.h"

#define CELLCTL_AUDIO_CHUNK (64 * 1024)

static volatile sig_atomic_t cellctl_audio_stop;

static void cellctl_audio_on_signal(int sig)
{
	(void)sig;
	cellctl_audio_stop = 1;
}

/* Send q and wait for its reply of kind want with nfds fds; NULL (the
 * error printed, *ret_st the exit status) otherwise. */
static Cellvm__Api__Response *cellctl_audio_call(struct cellctl *c, Cellvm__Api__Request *q,
						 int want, int *fds, size_t nfds, int *ret_st)
{
	Cellvm__Api__Response *m;
	size_t got = 0;
	int r = channel_send(c->fd, &q->base, CELLCTL_MAX_MSG, NULL, 0);

	*ret_st = EXIT_ERR;
	if (r < 0 && r != -EPIPE && r != -ECONNRESET) {
		fprintf(stderr, "cellctl: cannot send: %s\n", strerror(-r));
		return NULL;
	}
	m = cellctl_recv_fds(c, fds, nfds, &got);
	if (!m)
		return NULL;
	if ((int)m->msg_case == want && got == nfds)
		return m;
	if (m->msg_case == CELLVM__API__RESPONSE__MSG_ERROR)
		*ret_st = cellctl_print(c, m);
	else
		fprintf(stderr, "cellctl: unexpected reply\n");
	for (size_t i = 0; i < got; i++)
		close(fds[i]);
	cellvm__api__response__free_unpacked(m, NULL);
	return NULL;
}

/* What record-audio is writing. */
struct cellctl_rec {
	int out;
	uint32_t want;
	bool limited, started;
	uint64_t frames_left, frames;
	struct pcm_spec spec, in;
	struct pcm_conv conv;
	bool converting;
	uint64_t lost, periods, first_ns, last_ns;
	uint8_t conv_buf[CELLCTL_AUDIO_CHUNK];
};

/* Write a period's PCM (spec rec->in), converted to the file's spec, cut
 * at the frames still wanted. Returns 1 when done, 0, or -errno. */
static int cellctl_rec_put(struct cellctl_rec *rec, const uint8_t *pcm, size_t len)
{
	uint32_t fb = pcm_frame_bytes(&rec->spec);
	size_t used, n;
	int r;

	while (len) {
		const uint8_t *chunk = pcm;

		if (rec->converting) {
			n = pcm_conv_run(&rec->conv, pcm, len, &used, rec->conv_buf,
					 sizeof(rec->conv_buf));
			if (!used && !n)
				break;
			chunk = rec->conv_buf;
		} else {
			n = used = len;
		}
		pcm += used;
		len -= used;
		if (rec->limited && n / fb > rec->frames_left)
			n = (size_t)rec->frames_left * fb;
		r = fd_write_all(rec->out, chunk, n);
		if (r < 0)
			return r;
		rec->frames += n / fb;
		if (rec->limited) {
			rec->frames_left -= n / fb;
			if (!rec->frames_left)
				return 1;
		}
	}
	return 0;
}

/* One period out of the ring. Returns 1 when done, 0, or -errno. */
static int cellctl_rec_period(struct cellctl_rec *rec, const struct cellvm_audio_period *meta,
			      const uint8_t *pcm, size_t n)
{
	struct pcm_spec spec = {meta->format, meta->rate, meta->channels};
	uint8_t hdr[WAV_HEADER_MAX_BYTES];
	size_t hl;
	int r;

	if (meta->stream != rec->want)
		return 0;
	if (!rec->started) {
		rec->spec = rec->in = spec;
		hl = wav_header(hdr, &rec->spec, WAV_SIZE_STREAMING);
		if (!hl)
			return -EBADMSG;
		r = fd_write_all(rec->out, hdr, hl);
		if (r < 0)
			return r;
		rec->started = true;
		rec->frames_left *= spec.rate;
		rec->first_ns = meta->timestamp_ns;
	} else if (memcmp(&spec, &rec->in, sizeof(spec)) != 0) {
		rec->in = spec;
		rec->converting = memcmp(&rec->in, &rec->spec, sizeof(spec)) != 0;
		if (rec->converting && pcm_conv_init(&rec->conv, &rec->in, &rec->spec) < 0)
			return -EBADMSG;
	}
	rec->periods++;
	rec->last_ns = meta->timestamp_ns;
	return cellctl_rec_put(rec, pcm, n);
}

/* Follow the ring until the stream is done, a signal, or the broker hangs
 * up (the VM stopped). Returns 0 or -errno. */
static int cellctl_rec_follow(struct cellctl_rec *rec, int sock, const void *map, size_t size,
			      int efd)
{
	struct cellvm_audio_geometry g;
	struct cellvm_audio_period meta;
	uint64_t next, latest, v;
	uint8_t *pcm;
	int r = 0;

	/* UNTRUSTED(snd process): the geometry, checked on every read too. */
	r = cellvm_audio_geometry_get(map, size, &g);
	if (r < 0)
		return r;
	pcm = malloc(g.period_bytes);
	if (!pcm)
		return -ENOMEM;
	next = cellvm_audio_latest(map, size) + 1;
	while (!cellctl_audio_stop) {
		struct pollfd pf[2] = {{.fd = efd, .events = POLLIN},
				       {.fd = sock, .events = POLLIN}};

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (pf[1].revents) {
			r = 0; /* the broker hung up: the VM stopped */
			break;
		}
		while (read(efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			;
		latest = cellvm_audio_latest(map, size);
		if (next < cellvm_audio_oldest(latest, g.nperiods)) {
			rec->lost += cellvm_audio_oldest(latest, g.nperiods) - next;
			next = cellvm_audio_oldest(latest, g.nperiods);
		}
		for (; next <= latest && r == 0; next++) {
			long n = cellvm_audio_read(map, size, next, &meta, pcm, g.period_bytes);

			if (n < 0)
				rec->lost++;
			else
				r = cellctl_rec_period(rec, &meta, pcm, (size_t)n);
		}
		if (r != 0)
			break;
	}
	free(pcm);
	return r < 0 ? r : 0;
}

/* record-audio [VM_ID] -o FILE.wav [--seconds N] [--stream S] */
int cellctl_record_audio(struct cellctl *c, int argc, char **argv)
{
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__AudioCapture ac = CELLVM__API__AUDIO_CAPTURE__INIT;
	Cellvm__Api__Response *m;
	struct cellctl_rec *rec;
	const char *path = NULL;
	char *id = (char *)"";
	uint32_t seconds = 0, stream = 0;
	uint8_t hdr[WAV_HEADER_MAX_BYTES];
	int fds[2], st, r, seals;
	void *map = MAP_FAILED;
	struct stat sb;
	size_t size;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			if (parse_u32(argv[++i], 1, 86400, &seconds) < 0)
				return EXIT_USAGE;
		} else if (strcmp(argv[i], "--stream") == 0 && i + 1 < argc) {
			if (parse_u32(argv[++i], 0, 3, &stream) < 0)
				return EXIT_USAGE;
		} else if (!*id && argv[i][0] != '-') {
			id = argv[i];
		} else {
			return EXIT_USAGE;
		}
	}
	if (!path)
		return EXIT_USAGE;
	ac.vm_id = id;
	q.msg_case = CELLVM__API__REQUEST__MSG_AUDIO_CAPTURE;
	q.audio_capture = &ac;
	m = cellctl_audio_call(c, &q, CELLVM__API__RESPONSE__MSG_AUDIO_CAPTURE, fds, 2, &st);
	if (!m)
		return st;
	st = EXIT_ERR;
	if (stream >= m->audio_capture->playback) {
		fprintf(stderr, "cellctl: stream %u: the VM has %u playback streams\n", stream,
			m->audio_capture->playback);
		goto out;
	}
	/* The ring must not shrink under the mapping: the broker's is sealed. */
	size = (size_t)m->audio_capture->ring_bytes;
	seals = fcntl(fds[0], F_GET_SEALS);
	if (fstat(fds[0], &sb) < 0 || (uint64_t)sb.st_size < size || seals < 0 ||
	    !(seals & F_SEAL_SHRINK)) {
		fprintf(stderr, "cellctl: the audio ring is not what the broker said\n");
		goto out;
	}
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fds[0], 0);
	if (map == MAP_FAILED) {
		fprintf(stderr, "cellctl: mapping the audio ring: %s\n", strerror(errno));
		goto out;
	}
	rec = calloc(1, sizeof(*rec));
	if (!rec)
		goto out;
	rec->out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (rec->out < 0) {
		fprintf(stderr, "cellctl: %s: %s\n", path, strerror(errno));
		free(rec);
		goto out;
	}
	rec->want = stream;
	rec->limited = seconds != 0;
	rec->frames_left = seconds;
	signal(SIGINT, cellctl_audio_on_signal);
	signal(SIGTERM, cellctl_audio_on_signal);
	r = cellctl_rec_follow(rec, c->fd, map, size, fds[1]);
	/* The header again, with the size now known. */
	if (r == 0 && rec->started) {
		uint64_t data = rec->frames * pcm_frame_bytes(&rec->spec);
		size_t hl = wav_header(hdr, &rec->spec,
				       data >= WAV_SIZE_STREAMING ? WAV_SIZE_STREAMING
								  : (uint32_t)data);

		if (pwrite(rec->out, hdr, hl, 0) != (ssize_t)hl)
			r = -errno;
	}
	if (close(rec->out) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "cellctl: recording: %s\n", strerror(-r));
	} else if (!rec->started) {
		fprintf(stderr, "cellctl: stream %u played nothing: %s has no WAV\n", stream, path);
	} else if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "file", json_object_new_string(path));
		json_object_object_add(o, "frames", json_object_new_int64((int64_t)rec->frames));
		json_object_object_add(o, "rate", json_object_new_int64(rec->spec.rate));
		json_object_object_add(o, "channels", json_object_new_int64(rec->spec.channels));
		json_object_object_add(o, "format", json_object_new_int64(rec->spec.format));
		json_object_object_add(o, "periods", json_object_new_int64((int64_t)rec->periods));
		json_object_object_add(o, "lost", json_object_new_int64((int64_t)rec->lost));
		json_object_object_add(o, "first_timestamp_ns",
				       json_object_new_int64((int64_t)rec->first_ns));
		json_object_object_add(o, "last_timestamp_ns",
				       json_object_new_int64((int64_t)rec->last_ns));
		cellctl_print_json(o);
		st = 0;
	} else {
		printf("%s: %" PRIu64 " frames at %u Hz, %u channels (%" PRIu64 " periods lost)\n",
		       path, rec->frames, rec->spec.rate, rec->spec.channels, rec->lost);
		st = 0;
	}
	free(rec);
out:
	if (map != MAP_FAILED)
		munmap(map, size);
	close(fds[0]);
	close(fds[1]);
	cellvm__api__response__free_unpacked(m, NULL);
	return st;
}

/* play-audio [VM_ID] FILE.wav */
int cellctl_play_audio(struct cellctl *c, int argc, char **argv)
{
	Cellvm__Api__Request q = CELLVM__API__REQUEST__INIT;
	Cellvm__Api__AudioInput ai = CELLVM__API__AUDIO_INPUT__INIT;
	Cellvm__Api__Response *m;
	const char *path = NULL;
	char *id = (char *)"", why[160] = "";
	static uint8_t buf[CELLCTL_AUDIO_CHUNK];
	struct pcm_spec spec;
	uint64_t data, sent = 0;
	size_t hlen;
	ssize_t n;
	int in, wfd, st, r;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			return EXIT_USAGE;
		if (!path && i + 1 < argc && !*id)
			id = argv[i];
		else if (!path)
			path = argv[i];
		else
			return EXIT_USAGE;
	}
	if (!path)
		return EXIT_USAGE;
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		fprintf(stderr, "cellctl: %s: %s\n", path, strerror(errno));
		return EXIT_ERR;
	}
	/* UNTRUSTED(file): a WAV in a format the device reads, or nothing is sent. */
	n = pread(in, buf, WAV_PARSE_MAX_BYTES, 0);
	r = n < 0 ? -errno : wav_parse(buf, (size_t)n, &spec, &data, &hlen, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "cellctl: %s: not a WAV we play: %s\n", path,
			r == -EAGAIN ? "cut short"
			: *why	     ? why
				     : strerror(-r));
		close(in);
		return EXIT_ERR;
	}
	ai.vm_id = id;
	q.msg_case = CELLVM__API__REQUEST__MSG_AUDIO_INPUT;
	q.audio_input = &ai;
	m = cellctl_audio_call(c, &q, CELLVM__API__RESPONSE__MSG_AUDIO_INPUT, &wfd, 1, &st);
	if (!m) {
		close(in);
		return st;
	}
	cellvm__api__response__free_unpacked(m, NULL);
	/* The device reads at the guest's pace: this takes as long as the sound. */
	signal(SIGPIPE, SIG_IGN);
	r = 0;
	while ((n = read(in, buf, sizeof(buf))) > 0 && r == 0) {
		r = fd_write_all(wfd, buf, (size_t)n);
		sent += (uint64_t)n;
	}
	if (n < 0 && r == 0)
		r = -errno;
	close(in);
	close(wfd);
	if (r < 0) {
		fprintf(stderr, "cellctl: playing %s: %s\n", path,
			r == -EPIPE ? "the VM's sound card stopped reading" : strerror(-r));
		return EXIT_ERR;
	}
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "file", json_object_new_string(path));
		json_object_object_add(o, "bytes", json_object_new_int64((int64_t)sent));
		json_object_object_add(o, "rate", json_object_new_int64(spec.rate));
		json_object_object_add(o, "channels", json_object_new_int64(spec.channels));
		cellctl_print_json(o);
	} else {
		printf("%s: %" PRIu64 " bytes sent\n", path, sent);
	}
	return 0;
}
