/* cellvm-dev-snd's sinks and sources; see snd_io.h. Runs in the snd
 * process (the setup's part before the sandbox). Nothing here waits: the
 * ring never waits for a reader, a pushed stream is read non-blocking as
 * the guest's periods need it, and only the WAV files (regular files) are
 * read and written with plain calls. */
#include "dev-procs/snd/snd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define SND_IO_CHUNK 16384

void snd_io_init(struct snd_io *io)
{
	memset(io, 0, sizeof(*io));
	io->wav_fd = io->src_fd = io->push_fd = -1;
	io->source = SND_SOURCE_SILENCE;
}

int snd_io_ring(struct snd_io *io, int memfd, uint32_t nperiods, uint32_t period_bytes,
		uint32_t nstreams, const int *efds, size_t nefds)
{
	int r = audio_ring_init(&io->ring, memfd, nperiods, period_bytes, nstreams, efds, nefds);

	if (r < 0)
		return r;
	io->have_ring = true;
	return 0;
}

int snd_io_wav_sink(struct snd_io *io, int fd)
{
	struct stat st;
	int fl;

	/* UNTRUSTED(launcher): a regular file, written from where it is; its
	 * header's sizes are rewritten in place when a stream stops, unless
	 * it was opened for appending. */
	if (fstat(fd, &st) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (!S_ISREG(st.st_mode) || fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
		return -EINVAL;
	io->wav_fd = fd;
	io->wav_rewrite = !(fl & O_APPEND);
	return 0;
}

int snd_io_wav_source(struct snd_io *io, int fd)
{
	uint8_t buf[WAV_PARSE_MAX_BYTES];
	uint64_t data_bytes, end, fb;
	size_t hdr_len;
	struct stat st;
	char err[128];
	ssize_t n;
	int r;

	/* UNTRUSTED(user): the file's header, parsed once here. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	r = wav_parse(buf, (size_t)n, &io->src_spec, &data_bytes, &hdr_len, err, sizeof(err));
	if (r == -EAGAIN)
		r = -EBADMSG;
	if (r < 0) {
		log_err("WAV source: %s", err);
		return r;
	}
	fb = pcm_frame_bytes(&io->src_spec);
	end = (uint64_t)st.st_size;
	if (data_bytes != UINT64_MAX && data_bytes < end - hdr_len)
		end = hdr_len + data_bytes;
	io->src_start = hdr_len;
	io->src_end = hdr_len + (end - hdr_len) / fb * fb;
	for (uint32_t i = 0; i < SND_MAX_STREAMS; i++)
		io->src_pos[i] = io->src_start;
	io->src_fd = fd;
	io->source = SND_SOURCE_WAV;
	return 0;
}

/* ---- the converter fed a stage at a time ---- */

size_t snd_pull_run(struct snd_pull *p, const struct pcm_spec *in, const struct pcm_spec *out,
		    uint8_t *dst, size_t bytes, long (*rd)(void *arg, uint8_t *buf, size_t len),
		    void *arg)
{
	size_t w = 0;

	if (!p->init || memcmp(&p->conv.in, in, sizeof(*in)) ||
	    memcmp(&p->conv.out, out, sizeof(*out))) {
		/* New input: what is staged was of the old one. */
		if (p->init && memcmp(&p->conv.in, in, sizeof(*in)))
			p->have = p->off = 0;
		if (pcm_conv_init(&p->conv, in, out) < 0)
			return 0;
		p->init = true;
	}
	/* Bounded: each round converts, or reads, or ends. */
	for (int round = 0; w < bytes && round < 4096; round++) {
		size_t used = 0, n;
		long r;

		n = pcm_conv_run(&p->conv, p->stage + p->off, p->have - p->off, &used, dst + w,
				 bytes - w);
		p->off += used;
		w += n;
		if (w == bytes || n || used)
			continue;
		memmove(p->stage, p->stage + p->off, p->have - p->off);
		p->have -= p->off;
		p->off = 0;
		r = rd(arg, p->stage + p->have, sizeof(p->stage) - p->have);
		if (r <= 0)
			break;
		p->have += (size_t)r;
	}
	return w;
}

/* ---- sinks ---- */

static int snd_io_write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void snd_io_wav_fail(struct snd_io *io, int r)
{
	/* Once: a full disk must not flood the log every period. */
	log_warn("WAV sink: %s; nothing more is written to it", strerror(-r));
	io->wav_failed = true;
}

static void snd_io_wav(struct snd_io *io, const struct snd_stream *s, const uint8_t *pcm,
		       uint32_t bytes)
{
	static uint8_t tmp[SND_IO_CHUNK];
	uint8_t hdr[WAV_HEADER_MAX_BYTES];
	int r;

	if (io->wav_fd < 0 || io->wav_failed || s->id != 0)
		return;
	if (!io->wav_started) {
		io->wav_spec = s->spec;
		io->wav_hdr_len = wav_header(hdr, &s->spec, WAV_SIZE_STREAMING);
		r = io->wav_hdr_len ? snd_io_write_all(io->wav_fd, hdr, io->wav_hdr_len) : -EINVAL;
		if (r < 0) {
			snd_io_wav_fail(io, r);
			return;
		}
		io->wav_started = true;
	}
	if (!memcmp(&s->spec, &io->wav_spec, sizeof(s->spec))) {
		r = snd_io_write_all(io->wav_fd, pcm, bytes);
		if (r < 0)
			snd_io_wav_fail(io, r);
		else
			io->wav_bytes += bytes;
		return;
	}
	/* The guest changed its parameters: the file keeps its first ones. */
	if (!io->wav_conv_init || memcmp(&io->wav_conv.in, &s->spec, sizeof(s->spec))) {
		if (pcm_conv_init(&io->wav_conv, &s->spec, &io->wav_spec) < 0)
			return;
		io->wav_conv_init = true;
	}
	while (bytes) {
		size_t used = 0, n;

		n = pcm_conv_run(&io->wav_conv, pcm, bytes, &used, tmp, sizeof(tmp));
		if (n) {
			r = snd_io_write_all(io->wav_fd, tmp, n);
			if (r < 0) {
				snd_io_wav_fail(io, r);
				return;
			}
			io->wav_bytes += n;
		}
		if (!n && !used)
			break;
		pcm += used;
		bytes -= (uint32_t)used;
	}
}

void snd_io_play(void *ctx, const struct snd_stream *s, const uint8_t *pcm, uint32_t bytes,
		 uint64_t ts_ns, uint64_t position, bool discont)
{
	struct snd_io *io = ctx;

	if (io->have_ring &&
	    audio_ring_publish(&io->ring, s->id, s->spec.format, s->spec.rate, s->spec.channels,
			       pcm, bytes, ts_ns, position, discont ? CELLVM_AUDIO_DISCONT : 0) < 0)
		io->ring_errors++;
	snd_io_wav(io, s, pcm, bytes);
}

void snd_io_stopped(void *ctx, const struct snd_stream *s)
{
	struct snd_io *io = ctx;
	uint8_t hdr[WAV_HEADER_MAX_BYTES];
	size_t n;

	/* The header's sizes, now that they are known (a reader of the file
	 * while it grows sees a stream header: to EOF). */
	if (s->id != 0 || io->wav_fd < 0 || !io->wav_started || io->wav_failed ||
	    !io->wav_rewrite || io->wav_bytes > UINT32_MAX - 1 - WAV_HEADER_MAX_BYTES)
		return;
	n = wav_header(hdr, &io->wav_spec, (uint32_t)io->wav_bytes);
	if (n == io->wav_hdr_len && pwrite(io->wav_fd, hdr, n, 0) != (ssize_t)n)
		snd_io_wav_fail(io, -errno);
}

/* ---- sources ---- */

struct snd_io_file {
	struct snd_io *io;
	uint32_t stream;
};

/* The WAV source's PCM from the stream's place, looped. */
static long snd_io_file_read(void *arg, uint8_t *buf, size_t len)
{
	struct snd_io_file *f = arg;
	struct snd_io *io = f->io;
	uint64_t *pos = &io->src_pos[f->stream];
	ssize_t n;

	if (io->src_end <= io->src_start)
		return 0;
	if (*pos >= io->src_end)
		*pos = io->src_start;
	if (len > io->src_end - *pos)
		len = (size_t)(io->src_end - *pos);
	n = pread(io->src_fd, buf, len, (off_t)*pos);
	if (n <= 0)
		return 0; /* the file shrank, or an error: silence */
	*pos += (uint64_t)n;
	return n;
}

static void snd_io_push_end(struct snd_io *io, const char *why)
{
	log_info("pushed sound %llu ended after %llu bytes: %s; back to %s",
		 (unsigned long long)io->push_id, (unsigned long long)io->push_bytes, why,
		 io->source == SND_SOURCE_WAV ? "the WAV source" : "silence");
	close(io->push_fd);
	io->push_fd = -1;
	io->push_pull.init = false;
	io->push_pull.have = io->push_pull.off = 0;
}

void snd_io_push(struct snd_io *io, uint64_t id, int fd)
{
	int fl;

	if (io->push_fd >= 0)
		snd_io_push_end(io, "replaced");
	/* Never wait for the pusher: what is not there is silence. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		log_warn("pushed sound %llu refused: %s", (unsigned long long)id, strerror(errno));
		close(fd);
		return;
	}
	io->push_fd = fd;
	io->push_id = id;
	io->push_hdr_len = 0;
	io->push_parsed = false;
	io->push_bytes = 0;
	io->push_pull.init = false;
	io->push_pull.have = io->push_pull.off = 0;
	log_info("pushed sound %llu: the capture streams take it", (unsigned long long)id);
}

/* The pushed stream's PCM: what is there now. 0: nothing now, or its end
 * (then the stream is closed). */
static long snd_io_push_read(void *arg, uint8_t *buf, size_t len)
{
	struct snd_io *io = arg;
	ssize_t n;

	if (io->push_fd < 0)
		return 0;
	if (io->push_left == 0) {
		snd_io_push_end(io, "end of its data");
		return 0;
	}
	if (len > io->push_left)
		len = (size_t)io->push_left;
	n = read(io->push_fd, buf, len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		snd_io_push_end(io, n == 0 ? "end of file" : strerror(errno));
		return 0;
	}
	if (n < 0)
		return 0;
	if (io->push_left != UINT64_MAX)
		io->push_left -= (uint64_t)n;
	io->push_bytes += (uint64_t)n;
	return n;
}

/* Read the pushed stream's header as it comes. True once it is parsed. */
static bool snd_io_push_header(struct snd_io *io)
{
	uint64_t data_bytes;
	size_t hdr_len, extra;
	char err[128] = "";
	ssize_t n;
	int r;

	if (io->push_parsed)
		return true;
	n = read(io->push_fd, io->push_hdr + io->push_hdr_len,
		 sizeof(io->push_hdr) - io->push_hdr_len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		snd_io_push_end(io, n == 0 ? "end of file before its header" : strerror(errno));
		return false;
	}
	if (n < 0)
		return false;
	io->push_hdr_len += (size_t)n;
	/* UNTRUSTED(user): the header, parsed as it grows. */
	r = wav_parse(io->push_hdr, io->push_hdr_len, &io->push_spec, &data_bytes, &hdr_len, err,
		      sizeof(err));
	if (r == -EAGAIN && io->push_hdr_len < sizeof(io->push_hdr))
		return false;
	if (r < 0) {
		snd_io_push_end(io, r == -EAGAIN ? "header too long" : err);
		return false;
	}
	extra = io->push_hdr_len - hdr_len;
	if (data_bytes != UINT64_MAX && extra > data_bytes)
		extra = (size_t)data_bytes;
	io->push_left = data_bytes == UINT64_MAX ? UINT64_MAX : data_bytes - extra;
	io->push_bytes = extra;
	/* What came with the header is the first PCM (the stage holds it:
	 * both are WAV_PARSE_MAX_BYTES). */
	memcpy(io->push_pull.stage, io->push_hdr + hdr_len, extra);
	io->push_pull.have = extra;
	io->push_pull.off = 0;
	io->push_parsed = true;
	log_info("pushed sound %llu: format %u, %u Hz, %u channels",
		 (unsigned long long)io->push_id, io->push_spec.format, io->push_spec.rate,
		 io->push_spec.channels);
	return true;
}

void snd_io_capture(void *ctx, const struct snd_stream *s, uint8_t *out, uint32_t bytes)
{
	struct snd_io *io = ctx;
	struct snd_io_file f = {io, s->id};
	size_t w = 0;

	if (io->push_fd >= 0 && snd_io_push_header(io)) {
		/* Pushed sound while it lasts; silence while it has none. */
		w = snd_pull_run(&io->push_pull, &io->push_spec, &s->spec, out, bytes,
				 snd_io_push_read, io);
		if (w == bytes || io->push_fd >= 0) {
			pcm_silence(&s->spec, out + w, bytes - w);
			return;
		}
	} else if (io->push_fd >= 0) {
		pcm_silence(&s->spec, out, bytes);
		return;
	}
	if (io->source == SND_SOURCE_WAV && w < bytes)
		w += snd_pull_run(&io->src_pull[s->id], &io->src_spec, &s->spec, out + w, bytes - w,
				  snd_io_file_read, &f);
	pcm_silence(&s->spec, out + w, bytes - w);
}

void snd_io_close(struct snd_io *io)
{
	if (io->push_fd >= 0)
		close(io->push_fd);
	audio_ring_destroy(&io->ring);
	snd_io_init(io);
}
