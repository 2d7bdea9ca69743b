/* cellvm-test-audio: the host's side of the test guest's sound check
 * (test/guest/guest_check.py, check snd), as a third-party client of
 * cellvm run's audio sockets would be. Runs on the host, in the test only.
 *   follow SOCKET SECONDS   subscribe at --audio-socket (its hello line is
 *                           printed as "hello JSON"), follow playback stream
 *                           0 through the ring (proto/audio_ring.h's
 *                           helpers) until stdin ends and the ring has been
 *                           quiet for a second, or SECONDS pass; print what
 *                           it held as one JSON line
 *   push SOCKET FREQ SECONDS RATE
 *                           connect to --audio-input-socket, print its JSON
 *                           line, then write a WAV stream of a FREQ Hz sine,
 *                           16-bit mono at RATE Hz, for SECONDS
 *   wav FILE                what a WAV file (the sink=wav: file) holds, as
 *                           one JSON line
 * The JSON: rate, channels, format, frames, freq (the dominant frequency,
 * 50..5000 Hz), rms (full scale 1); follow adds periods, lost (serials
 * missed or torn), gaps (a period whose position does not follow the one
 * before, with no DISCONT), disconts, first_position, first_discont and
 * changes (periods whose format, rate or channels differ from the first).
 * UNTRUSTED(snd process): the ring, read with the checking helpers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/pcm.h"
#include "proto/audio_ring.h"
#include "test/guest/tone.h"

#define AUDIO_MAX_SECONDS 120

struct track {
	struct pcm_spec spec; /* of the first period */
	float *mono;	      /* its samples, channels averaged */
	size_t n, cap;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "cellvm-test-audio: %s: %s\n", what, strerror(err));
	exit(1);
}

static float sample_get(uint32_t format, const uint8_t *p)
{
	int32_t v;
	float f;

	switch (format) {
	case CELLVM_AUDIO_S16: return (float)(int16_t)(p[0] | p[1] << 8) / 32768.0f;
	case CELLVM_AUDIO_FLOAT: memcpy(&f, p, 4); return f;
	default:
		memcpy(&v, p, 4);
		return format == CELLVM_AUDIO_S24 ? (float)v / 8388608.0f
						  : (float)((double)v / 2147483648.0);
	}
}

/* Append bytes of spec's PCM to t, channels averaged. */
static void track_add(struct track *t, const struct pcm_spec *spec, const uint8_t *pcm,
		      size_t bytes)
{
	uint32_t sb = cellvm_audio_sample_bytes(spec->format), fb = sb * spec->channels;
	size_t frames = fb ? bytes / fb : 0;

	if (t->n + frames > t->cap) {
		size_t cap = (t->n + frames) * 2;

		if (cap > (size_t)AUDIO_MAX_SECONDS * CELLVM_AUDIO_MAX_RATE)
			die("track", EFBIG);
		t->mono = realloc(t->mono, cap * sizeof(float));
		if (!t->mono)
			die("track", ENOMEM);
		t->cap = cap;
	}
	for (size_t i = 0; i < frames; i++) {
		float sum = 0;

		for (uint32_t c = 0; c < spec->channels; c++)
			sum += sample_get(spec->format, pcm + i * fb + c * sb);
		t->mono[t->n++] = sum / (float)spec->channels;
	}
}

static void track_print(const struct track *t, const char *more)
{
	double freq = tone_dominant(t->mono, t->n, t->spec.rate, 50, 5000);

	printf("{\"rate\": %u, \"channels\": %u, \"format\": %u, \"frames\": %zu, \"freq\": %.2f, "
	       "\"rms\": %.4f%s}\n",
	       t->spec.rate, t->spec.channels, t->spec.format, t->n, freq, tone_rms(t->mono, t->n),
	       more);
	fflush(stdout);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		die(path, fd < 0 ? errno : ENAMETOOLONG);
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(path, errno);
	return fd;
}

/* The hello line and its two fds (the ring, the eventfd). */
static void recv_hello(int s, char *line, size_t len, int fds[2])
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} c;
	struct iovec iov = {.iov_base = line, .iov_len = len - 1};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = c.buf,
			   .msg_controllen = sizeof(c.buf)};
	struct cmsghdr *h;
	ssize_t got = recvmsg(s, &m, MSG_CMSG_CLOEXEC);

	if (got <= 0)
		die("hello", got < 0 ? errno : EPIPE);
	line[got] = 0;
	line[strcspn(line, "\n")] = 0;
	h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_RIGHTS || h->cmsg_len != CMSG_LEN(2 * sizeof(int))) {
		fprintf(stderr, "cellvm-test-audio: no ring and eventfd with: %s\n", line);
		exit(1);
	}
	memcpy(fds, CMSG_DATA(h), 2 * sizeof(int));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct follow {
	const uint8_t *map;
	size_t size;
	uint64_t next; /* the next serial to read */
	uint8_t *buf;
	size_t cap;
	struct track t;
	bool have_prev;
	uint64_t prev_end; /* position after the last period of stream 0 */
	unsigned periods, lost, gaps, disconts, changes;
	uint64_t first_position;
	bool first_discont;
};

/* Read every period published since the last call. Returns how many. */
static unsigned follow_drain(struct follow *f)
{
	uint64_t latest = cellvm_audio_latest(f->map, f->size);
	struct cellvm_audio_geometry g;
	unsigned got = 0;

	if (cellvm_audio_geometry_get(f->map, f->size, &g) < 0)
		return 0; /* not initialised yet */
	if (f->next < cellvm_audio_oldest(latest, g.nperiods)) {
		f->lost += (unsigned)(cellvm_audio_oldest(latest, g.nperiods) - f->next);
		f->next = cellvm_audio_oldest(latest, g.nperiods);
	}
	for (; f->next <= latest; f->next++) {
		struct cellvm_audio_period p;
		struct pcm_spec spec;
		long r = cellvm_audio_read(f->map, f->size, f->next, &p, f->buf, f->cap);

		if (r < 0) {
			f->lost++;
			continue;
		}
		got++;
		if (p.stream != 0)
			continue;
		spec = (struct pcm_spec){
			.format = p.format, .rate = p.rate, .channels = p.channels};
		if (f->periods == 0) {
			f->t.spec = spec;
			f->first_position = p.position;
			f->first_discont = p.flags & CELLVM_AUDIO_DISCONT;
		} else if (memcmp(&spec, &f->t.spec, sizeof(spec)) != 0) {
			f->changes++;
		}
		if (p.flags & CELLVM_AUDIO_DISCONT)
			f->disconts++;
		else if (f->have_prev && p.position != f->prev_end)
			f->gaps++;
		f->periods++;
		f->have_prev = true;
		f->prev_end = p.position + (uint64_t)r / pcm_frame_bytes(&spec);
		if (memcmp(&spec, &f->t.spec, sizeof(spec)) == 0)
			track_add(&f->t, &spec, f->buf, (size_t)r);
	}
	return got;
}

static int audio_follow(const char *path, double seconds)
{
	struct follow f = {0};
	char line[512], more[512];
	uint64_t deadline = now_ms() + (uint64_t)(seconds * 1000), quiet_since = 0;
	bool stdin_open = true;
	struct stat st;
	int s = connect_to(path), fds[2];

	recv_hello(s, line, sizeof(line), fds);
	if (fstat(fds[0], &st) < 0)
		die("ring", errno);
	f.size = (size_t)st.st_size;
	f.map = mmap(NULL, f.size, PROT_READ, MAP_SHARED, fds[0], 0);
	if (f.map == MAP_FAILED)
		die("ring mmap", errno);
	f.cap = CELLVM_AUDIO_MAX_PERIOD_BYTES;
	f.buf = malloc(f.cap);
	if (!f.buf)
		die("buffer", ENOMEM);
	/* Only what is played from now on. */
	f.next = cellvm_audio_latest(f.map, f.size) + 1;
	printf("hello %s\n", line);
	fflush(stdout);
	for (;;) {
		struct pollfd pfd[2] = {{.fd = fds[1], .events = POLLIN},
					{.fd = stdin_open ? 0 : -1, .events = POLLIN}};
		uint64_t now = now_ms();
		uint64_t val;

		if (now >= deadline)
			break;
		if (!stdin_open && quiet_since && now - quiet_since >= 1000)
			break;
		if (poll(pfd, 2, stdin_open ? (int)(deadline - now) : 100) < 0 && errno != EINTR)
			die("poll", errno);
		if (pfd[1].revents) {
			char drop[64];

			if (read(0, drop, sizeof(drop)) <= 0)
				stdin_open = false;
		}
		if (pfd[0].revents)
			(void)!read(fds[1], &val, sizeof(val));
		/* Drained on every wake-up: a missed write of the eventfd
		 * costs nothing. */
		if (follow_drain(&f) || !quiet_since)
			quiet_since = now_ms();
	}
	snprintf(more, sizeof(more),
		 ", \"periods\": %u, \"lost\": %u, \"gaps\": %u, \"disconts\": %u, "
		 "\"first_position\": %llu, \"first_discont\": %s, \"changes\": %u",
		 f.periods, f.lost, f.gaps, f.disconts, (unsigned long long)f.first_position,
		 f.first_discont ? "true" : "false", f.changes);
	track_print(&f.t, more);
	munmap((void *)f.map, f.size);
	free(f.buf);
	free(f.t.mono);
	close(fds[0]);
	close(fds[1]);
	close(s);
	return 0;
}

/* Write all of buf; false when the reader went away (the VM ended while
 * sound was still being pushed: the test stops it so). */
static bool write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
			return false;
		if (w <= 0)
			die("push", w < 0 ? errno : EPIPE);
		p += w;
		len -= (size_t)w;
	}
	return true;
}

static int audio_push(const char *path, double freq, double seconds, uint32_t rate)
{
	struct pcm_spec spec = {.format = CELLVM_AUDIO_S16, .rate = rate, .channels = 1};
	uint64_t frames = (uint64_t)(seconds * rate);
	uint8_t head[WAV_HEADER_MAX_BYTES], chunk[4096];
	char line[256];
	size_t n = 0, hl;
	int s = connect_to(path);

	/* The socket's answer: one line. */
	while (n < sizeof(line) - 1) {
		ssize_t got = read(s, line + n, 1);

		if (got <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	printf("%s\n", line);
	fflush(stdout);
	if (!strstr(line, "\"id\""))
		return 1;
	hl = wav_header(head, &spec, (uint32_t)(frames * 2));
	if (hl == 0)
		die("wav_header", EINVAL);
	if (!write_all(s, head, hl))
		frames = 0;
	for (uint64_t i = 0; i < frames;) {
		size_t k = 0;

		for (; k + 2 <= sizeof(chunk) && i < frames; k += 2, i++) {
			int16_t v = (int16_t)lrint(32767.0 * tone_sample(freq, rate, 0.5, i));

			chunk[k] = (uint8_t)v;
			chunk[k + 1] = (uint8_t)((uint16_t)v >> 8);
		}
		if (!write_all(s, chunk, k))
			break;
	}
	close(s);
	return 0;
}

static int audio_wav(const char *path)
{
	struct track t = {0};
	uint64_t data_bytes;
	size_t header_len, len = 0, cap = 1 << 20;
	uint8_t *buf = malloc(cap);
	char err[160] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	ssize_t got;

	if (fd < 0 || !buf)
		die(path, fd < 0 ? errno : ENOMEM);
	while ((got = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)got;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf || cap > (1u << 30))
				die(path, ENOMEM);
		}
	}
	close(fd);
	r = wav_parse(buf, len, &t.spec, &data_bytes, &header_len, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "cellvm-test-audio: %s: not a WAV we read (%d): %s\n", path, r,
			err);
		return 1;
	}
	if (data_bytes > len - header_len)
		data_bytes = len - header_len; /* to EOF, or cut short */
	track_add(&t, &t.spec, buf + header_len, (size_t)data_bytes);
	track_print(&t, "");
	free(buf);
	free(t.mono);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "follow") == 0)
		return audio_follow(argv[2], atof(argv[3]));
	if (argc == 6 && strcmp(argv[1], "push") == 0)
		return audio_push(argv[2], atof(argv[3]), atof(argv[4]),
				  (uint32_t)strtoul(argv[5], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "wav") == 0)
		return audio_wav(argv[2]);
	fprintf(stderr, "usage: cellvm-test-audio follow SOCKET SECONDS | push SOCKET FREQ "
			"SECONDS RATE | wav FILE\n");
	return 2;
}
