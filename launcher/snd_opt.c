/* The sound card's options; see snd_opt.h. Runs in cellvm run and
 * cellvm-broker (root): the strings are the user's, checked before anything
 * starts; the WAV source's header is read and checked here too, so a file we
 * cannot play is the user's error at start, not a log line of the device's. */
#include "launcher/snd_opt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/parse.h"
#include "common/pcm.h"
#include "proto/audio_ring.h"
#include "proto/channel.h"

#define SND_OPT_MAX_CHANNELS CELLVM_AUDIO_MAX_CHANNELS

void snd_opt_init(struct snd_opt *o)
{
	memset(o, 0, sizeof(*o));
	o->playback = 1;
	o->capture = 1;
	o->sinks = SND_OPT_SINK_RING;
	o->source = SND_OPT_SOURCE_SILENCE;
	o->ring_fd = -1;
	o->sink_fd = -1;
	o->source_fd = -1;
}

int snd_opt_check(const struct snd_opt *o, char *err, size_t errlen)
{
	if (o->playback > SND_OPT_MAX_STREAMS || o->capture > SND_OPT_MAX_STREAMS) {
		snprintf(err, errlen, "playback=%u, capture=%u: 0 to %d streams each", o->playback,
			 o->capture, SND_OPT_MAX_STREAMS);
		return -EINVAL;
	}
	if (o->playback + o->capture == 0) {
		snprintf(err, errlen, "playback=0 and capture=0: a sound card needs a stream");
		return -EINVAL;
	}
	if (o->periods && (o->periods < SND_OPT_MIN_PERIODS || o->periods > SND_OPT_MAX_PERIODS)) {
		snprintf(err, errlen, "periods=%u: %d to %d", o->periods, SND_OPT_MIN_PERIODS,
			 SND_OPT_MAX_PERIODS);
		return -EINVAL;
	}
	if (o->max_channels > SND_OPT_MAX_CHANNELS) {
		snprintf(err, errlen, "channels=%u: 1 to %d", o->max_channels,
			 SND_OPT_MAX_CHANNELS);
		return -EINVAL;
	}
	if (o->sinks & ~(SND_OPT_SINK_RING | SND_OPT_SINK_WAV)) {
		snprintf(err, errlen, "sinks %#x: only the ring and a WAV file", o->sinks);
		return -EINVAL;
	}
	if ((o->sinks & SND_OPT_SINK_WAV) &&
	    (!o->sink_path[0] || !memchr(o->sink_path, 0, sizeof(o->sink_path)))) {
		snprintf(err, errlen, "sink=wav:PATH needs a path (at most %d bytes)",
			 SND_OPT_PATH - 1);
		return -EINVAL;
	}
	if (o->source != SND_OPT_SOURCE_SILENCE && o->source != SND_OPT_SOURCE_WAV) {
		snprintf(err, errlen, "source %d: silence or a WAV file", (int)o->source);
		return -EINVAL;
	}
	if (o->source == SND_OPT_SOURCE_WAV &&
	    (!o->source_path[0] || !memchr(o->source_path, 0, sizeof(o->source_path)))) {
		snprintf(err, errlen, "source=wav:PATH needs a path (at most %d bytes)",
			 SND_OPT_PATH - 1);
		return -EINVAL;
	}
	/* The sink is truncated when it is opened: the same file as source
	 * would be emptied before it is read. */
	if ((o->sinks & SND_OPT_SINK_WAV) && o->source == SND_OPT_SOURCE_WAV &&
	    strcmp(o->sink_path, o->source_path) == 0) {
		snprintf(err, errlen, "wav:%s is both the sink and the source", o->sink_path);
		return -EINVAL;
	}
	return 0;
}

/* "wav:PATH" into path (SND_OPT_PATH bytes). */
static int snd_opt_parse_wav(const char *v, char *path)
{
	if (strncmp(v, "wav:", 4) != 0 || !v[4] || strlen(v + 4) >= SND_OPT_PATH)
		return -EINVAL;
	strcpy(path, v + 4);
	return 0;
}

/* One sink= value. The first sink= replaces the default (the ring); a
 * second may add the other of ring and wav:, never null or a repeat. */
static int snd_opt_parse_sink(const char *tok, const char *v, struct snd_opt *o, bool *given,
			      char *err, size_t errlen)
{
	uint32_t bit;

	if (strcmp(v, "null") == 0) {
		if (*given) {
			snprintf(err, errlen, "'%s': null with another sink", tok);
			return -EINVAL;
		}
		o->sinks = 0;
		*given = true;
		return 0;
	}
	if (*given && o->sinks == 0) {
		snprintf(err, errlen, "'%s': another sink after sink=null", tok);
		return -EINVAL;
	}
	if (strcmp(v, "ring") == 0) {
		bit = SND_OPT_SINK_RING;
	} else if (snd_opt_parse_wav(v, o->sink_path) == 0) {
		bit = SND_OPT_SINK_WAV;
	} else {
		snprintf(err, errlen,
			 "'%s': sink=ring, sink=null or sink=wav:PATH (%d bytes at most)", tok,
			 SND_OPT_PATH - 1);
		return -EINVAL;
	}
	if (!*given)
		o->sinks = 0;
	if (o->sinks & bit) {
		snprintf(err, errlen, "'%s': that sink is given twice", tok);
		return -EINVAL;
	}
	o->sinks |= bit;
	*given = true;
	return 0;
}

int snd_opt_parse(const char *s, struct snd_opt *o, char *err, size_t errlen)
{
	static const char *const keys[] = {"playback", "capture", "periods", "channels", "source"};
	bool seen[sizeof(keys) / sizeof(keys[0])] = {false}, sink_given = false;
	char buf[2 * SND_OPT_PATH + 128], *save = NULL;
	size_t len = strlen(s);

	snd_opt_init(o);
	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "'%.32s...': too long", s);
		return -EINVAL;
	}
	if (len == 0 || strcmp(s, "on") == 0)
		return 0;
	if (s[0] == ',' || s[len - 1] == ',' || strstr(s, ",,")) {
		snprintf(err, errlen, "'%s': an empty item", s);
		return -EINVAL;
	}
	strcpy(buf, s);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *v;
		size_t k;
		int r;

		if (!eq) {
			snprintf(err, errlen,
				 "'%s': not key=value (playback, capture, periods, channels, "
				 "sink, source)",
				 tok);
			return -EINVAL;
		}
		v = eq + 1;
		if ((size_t)(eq - tok) == 4 && strncmp(tok, "sink", 4) == 0) {
			r = snd_opt_parse_sink(tok, v, o, &sink_given, err, errlen);
			if (r < 0)
				return r;
			continue;
		}
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strlen(keys[k]) == (size_t)(eq - tok) &&
			    strncmp(tok, keys[k], (size_t)(eq - tok)) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			snprintf(err, errlen,
				 "'%s': unknown key (playback, capture, periods, channels, sink, "
				 "source)",
				 tok);
			return -EINVAL;
		}
		if (seen[k]) {
			snprintf(err, errlen, "'%s': %s= given twice", tok, keys[k]);
			return -EINVAL;
		}
		seen[k] = true;
		switch (k) {
		case 0:
		case 1:
			r = parse_u32(v, 0, SND_OPT_MAX_STREAMS,
				      k == 0 ? &o->playback : &o->capture);
			if (r < 0) {
				snprintf(err, errlen, "'%s': %s=N (0 to %d streams)", tok, keys[k],
					 SND_OPT_MAX_STREAMS);
				return -EINVAL;
			}
			break;
		case 2:
			r = parse_u32(v, SND_OPT_MIN_PERIODS, SND_OPT_MAX_PERIODS, &o->periods);
			if (r < 0) {
				snprintf(err, errlen, "'%s': periods=N (%d to %d)", tok,
					 SND_OPT_MIN_PERIODS, SND_OPT_MAX_PERIODS);
				return -EINVAL;
			}
			break;
		case 3:
			r = parse_u32(v, 1, SND_OPT_MAX_CHANNELS, &o->max_channels);
			if (r < 0) {
				snprintf(err, errlen, "'%s': channels=N (1 to %d)", tok,
					 SND_OPT_MAX_CHANNELS);
				return -EINVAL;
			}
			break;
		default:
			if (strcmp(v, "silence") == 0) {
				o->source = SND_OPT_SOURCE_SILENCE;
			} else if (snd_opt_parse_wav(v, o->source_path) == 0) {
				o->source = SND_OPT_SOURCE_WAV;
			} else {
				snprintf(err, errlen,
					 "'%s': source=silence or source=wav:PATH (%d bytes at "
					 "most)",
					 tok, SND_OPT_PATH - 1);
				return -EINVAL;
			}
			break;
		}
	}
	return snd_opt_check(o, err, errlen);
}

/* The ring: a memfd of cellvm_audio_ring_bytes, sealed against shrinking
 * and growing, so a reader's mapping never faults. */
static int snd_opt_open_ring(struct snd_opt *o, char *err, size_t errlen)
{
	uint32_t periods = o->periods ? o->periods : SND_OPT_DEFAULT_PERIODS;
	uint64_t bytes = cellvm_audio_ring_bytes(periods, SND_OPT_PERIOD_BYTES);
	int fd, r;

	fd = memfd_create("cellvm-audio", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "audio ring: memfd_create: %s", strerror(-r));
		return r;
	}
	if (ftruncate(fd, (off_t)bytes) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		snprintf(err, errlen, "audio ring of %llu bytes: %s", (unsigned long long)bytes,
			 strerror(-r));
		close(fd);
		return r;
	}
	o->ring_fd = fd;
	o->ring_size = (size_t)bytes;
	return 0;
}

/* The sink: a regular file, created or truncated. Something else at the
 * path (a FIFO, a device) is refused before it is opened for writing;
 * O_NONBLOCK keeps a FIFO swapped in meanwhile from hanging us, and the
 * open file is checked again. */
static int snd_opt_open_sink(struct snd_opt *o, char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	if (stat(o->sink_path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "sink=wav:%s: not a regular file", o->sink_path);
		return -EINVAL;
	}
	fd = open(o->sink_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		  0644);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "sink=wav:%s: %s", o->sink_path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, 0) < 0) {
		snprintf(err, errlen, "sink=wav:%s: not a regular file", o->sink_path);
		close(fd);
		return -EINVAL;
	}
	o->sink_fd = fd;
	return 0;
}

/* The source: a regular file holding a WAV we read (wav_parse), with
 * sound in it: the device loops it, and an empty loop would spin. */
static int snd_opt_open_source(struct snd_opt *o, char *err, size_t errlen)
{
	uint8_t head[WAV_PARSE_MAX_BYTES];
	char why[160] = "";
	struct pcm_spec spec;
	uint64_t data_bytes;
	size_t header_len;
	struct stat st;
	ssize_t got;
	int fd, r;

	fd = open(o->source_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "source=wav:%s: %s", o->source_path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "source=wav:%s: not a regular file", o->source_path);
		r = -EINVAL;
		goto fail;
	}
	got = pread(fd, head, sizeof(head), 0);
	if (got < 0) {
		r = -errno;
		snprintf(err, errlen, "source=wav:%s: %s", o->source_path, strerror(-r));
		goto fail;
	}
	r = wav_parse(head, (size_t)got, &spec, &data_bytes, &header_len, why, sizeof(why));
	if (r == -EAGAIN) {
		snprintf(err, errlen, "source=wav:%s: not a WAV file (its header is cut short)",
			 o->source_path);
		r = -EBADMSG;
		goto fail;
	}
	if (r < 0) {
		snprintf(err, errlen, "source=wav:%s: %s", o->source_path,
			 why[0] ? why
				: (r == -ENOTSUP ? "a WAV format we do not read"
						 : "not a WAV file"));
		goto fail;
	}
	if ((uint64_t)st.st_size <= header_len || data_bytes == 0 ||
	    (uint64_t)st.st_size - header_len < pcm_frame_bytes(&spec)) {
		snprintf(err, errlen, "source=wav:%s: holds no sound", o->source_path);
		r = -EBADMSG;
		goto fail;
	}
	o->source_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

int snd_opt_open(struct snd_opt *o, char *err, size_t errlen)
{
	uint32_t index = 0;
	int r;

	r = snd_opt_check(o, err, errlen);
	if (r < 0)
		return r;
	if (o->sinks & SND_OPT_SINK_RING) {
		r = snd_opt_open_ring(o, err, errlen);
		if (r < 0)
			goto fail;
	}
	if (o->sinks & SND_OPT_SINK_WAV) {
		r = snd_opt_open_sink(o, err, errlen);
		if (r < 0)
			goto fail;
	}
	if (o->source == SND_OPT_SOURCE_WAV) {
		r = snd_opt_open_source(o, err, errlen);
		if (r < 0)
			goto fail;
	}
	cellvm__device__snd_config__init(&o->cfg);
	o->cfg.playback = o->playback;
	o->cfg.capture = o->capture;
	o->cfg.ring_periods = o->periods ? o->periods : SND_OPT_DEFAULT_PERIODS;
	o->cfg.ring_period_bytes = SND_OPT_PERIOD_BYTES;
	o->cfg.sinks = o->sinks;
	o->cfg.source = (uint32_t)o->source;
	o->cfg.max_channels = o->max_channels;
	/* The backend fds in launcher_dev.c's order: the ring, the sink, the
	 * source; sinks and source say which are there. */
	if (o->ring_fd >= 0)
		index++;
	if (o->sink_fd >= 0)
		o->cfg.wav_sink_fd_index = index++;
	if (o->source_fd >= 0)
		o->cfg.wav_source_fd_index = index++;
	return 0;
fail:
	snd_opt_close(o);
	return r;
}

int snd_opt_reader_fd(const struct snd_opt *o)
{
	char path[64];
	int fd;

	if (o->ring_fd < 0)
		return -ENODEV;
	/* A new open file description, read-only: mmap of it cannot be
	 * PROT_WRITE with MAP_SHARED, nor mprotect'ed so. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", o->ring_fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void snd_opt_close(struct snd_opt *o)
{
	if (o->ring_fd >= 0)
		close(o->ring_fd);
	if (o->sink_fd >= 0)
		close(o->sink_fd);
	if (o->source_fd >= 0)
		close(o->source_fd);
	o->ring_fd = o->sink_fd = o->source_fd = -1;
}

#define SND_OPT_MAX_MSG 256

int snd_opt_audio_source(int ctl, uint64_t id, int fd)
{
	Cellvm__Device__ControlMessage m = CELLVM__DEVICE__CONTROL_MESSAGE__INIT;
	Cellvm__Device__AudioSource a = CELLVM__DEVICE__AUDIO_SOURCE__INIT;

	a.id = id;
	m.nfds = 1;
	m.msg_case = CELLVM__DEVICE__CONTROL_MESSAGE__MSG_AUDIO_SOURCE;
	m.audio_source = &a;
	return channel_send(ctl, &m.base, SND_OPT_MAX_MSG, &fd, 1);
}

size_t snd_opt_reader_hello(const struct snd_opt *o, char *buf, size_t len)
{
	int w = snprintf(buf, len, "{\"ring_bytes\": %zu, \"playback\": %u, \"capture\": %u}\n",
			 o->ring_size, o->playback, o->capture);

	if (w < 0 || len == 0)
		return 0;
	return (size_t)w < len ? (size_t)w : len - 1;
}
