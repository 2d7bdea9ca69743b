/* Unit tests for launcher/snd_opt: the --snd option string is user input,
 * so every hostile string gets a clear refusal; snd_opt_open makes a sealed
 * ring of the contract's size, creates the WAV sink, refuses a source that
 * is not a WAV we read, and numbers the backend fds as launcher_dev.c hands
 * them over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/snd_opt.h"
#include "proto/audio_ring.h"

static void check_err_printable(const char *s, const char *err)
{
	if (!*err)
		fail_msg("'%s': refused without a message", s);
	for (const char *c = err; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			fail_msg("'%s': message has byte %#x: %s", s, (unsigned char)*c, err);
}

/* s is refused with -EINVAL and a printable message containing want. */
static void refused(const char *s, const char *want)
{
	struct snd_opt o;
	char err[512] = "";
	int r = snd_opt_parse(s, &o, err, sizeof(err));

	if (r != -EINVAL)
		fail_msg("snd_opt_parse(\"%s\") = %d, want -EINVAL", s, r);
	check_err_printable(s, err);
	if (!strstr(err, want))
		fail_msg("snd_opt_parse(\"%s\"): '%s' lacks '%s'", s, err, want);
}

static void accepted(const char *s, struct snd_opt *o)
{
	char err[512] = "";
	int r = snd_opt_parse(s, o, err, sizeof(err));

	if (r != 0)
		fail_msg("snd_opt_parse(\"%s\") = %d: %s", s, r, err);
}

static void assert_defaults(const struct snd_opt *o)
{
	assert_int_equal(o->playback, 1);
	assert_int_equal(o->capture, 1);
	assert_int_equal(o->periods, 0);
	assert_int_equal(o->max_channels, 0);
	assert_int_equal(o->sinks, SND_OPT_SINK_RING);
	assert_int_equal(o->source, SND_OPT_SOURCE_SILENCE);
	assert_int_equal(o->ring_fd, -1);
	assert_int_equal(o->sink_fd, -1);
	assert_int_equal(o->source_fd, -1);
}

static void test_parse_defaults(void **state)
{
	struct snd_opt o;

	(void)state;
	accepted("", &o);
	assert_defaults(&o);
	accepted("on", &o);
	assert_defaults(&o);
}

static void test_parse_full(void **state)
{
	struct snd_opt o;

	(void)state;
	accepted("playback=4,capture=0,periods=4096,channels=8,sink=ring,sink=wav:/tmp/out.wav,"
		 "source=wav:in.wav",
		 &o);
	assert_int_equal(o.playback, 4);
	assert_int_equal(o.capture, 0);
	assert_int_equal(o.periods, 4096);
	assert_int_equal(o.max_channels, 8);
	assert_int_equal(o.sinks, SND_OPT_SINK_RING | SND_OPT_SINK_WAV);
	assert_string_equal(o.sink_path, "/tmp/out.wav");
	assert_int_equal(o.source, SND_OPT_SOURCE_WAV);
	assert_string_equal(o.source_path, "in.wav");
	/* The first sink= replaces the default ring; either order for two. */
	accepted("sink=wav:a.wav", &o);
	assert_int_equal(o.sinks, SND_OPT_SINK_WAV);
	accepted("sink=wav:a.wav,sink=ring", &o);
	assert_int_equal(o.sinks, SND_OPT_SINK_RING | SND_OPT_SINK_WAV);
	accepted("sink=null,capture=2,playback=0,source=silence", &o);
	assert_int_equal(o.sinks, 0);
	assert_int_equal(o.playback, 0);
	assert_int_equal(o.capture, 2);
	accepted("periods=16,channels=1", &o);
	assert_int_equal(o.periods, 16);
	assert_int_equal(o.max_channels, 1);
}

static void test_parse_refused(void **state)
{
	char big[SND_OPT_PATH + 16];

	(void)state;
	refused(",", "empty item");
	refused("playback=1,", "empty item");
	refused(",playback=1", "empty item");
	refused("playback=1,,capture=1", "empty item");
	refused("off", "not key=value");
	refused("playback", "not key=value");
	refused("=1", "unknown key");
	refused("rate=48000", "unknown key");
	refused("Playback=1", "unknown key");
	refused("playback=5", "0 to 4");
	refused("capture=-1", "0 to 4");
	refused("capture=1x", "0 to 4");
	refused("playback=", "0 to 4");
	refused("playback=0,capture=0", "needs a stream");
	refused("playback=1,playback=1", "given twice");
	refused("periods=15", "16 to 4096");
	refused("periods=4097", "16 to 4096");
	refused("channels=0", "1 to 8");
	refused("channels=9", "1 to 8");
	refused("channels=2,channels=2", "given twice");
	refused("sink=file", "sink=ring");
	refused("sink=wav:", "sink=ring");
	refused("sink=wav", "sink=ring");
	refused("sink=", "sink=ring");
	refused("sink=ring,sink=ring", "given twice");
	refused("sink=wav:a,sink=wav:b", "given twice");
	refused("sink=null,sink=ring", "after sink=null");
	refused("sink=ring,sink=null", "null with another sink");
	refused("source=noise", "source=silence");
	refused("source=wav:", "source=silence");
	refused("source=silence,source=silence", "given twice");
	refused("sink=wav:x.wav,source=wav:x.wav", "both the sink and the source");
	memset(big, 0, sizeof(big));
	memcpy(big, "sink=wav:", 9);
	memset(big + 9, 'a', SND_OPT_PATH);
	refused(big, "bytes at most");
	memset(big, 'a', sizeof(big) - 1);
	refused(big, "not key=value");
	{
		char huge[1024];

		memset(huge, 'a', sizeof(huge) - 1);
		huge[sizeof(huge) - 1] = 0;
		refused(huge, "too long");
	}
}

static void test_check(void **state)
{
	struct snd_opt o;
	char err[256];

	(void)state;
	snd_opt_init(&o);
	assert_int_equal(snd_opt_check(&o, err, sizeof(err)), 0);
	o.sinks = 4;
	assert_int_equal(snd_opt_check(&o, err, sizeof(err)), -EINVAL);
	snd_opt_init(&o);
	o.sinks = SND_OPT_SINK_WAV; /* no path */
	assert_int_equal(snd_opt_check(&o, err, sizeof(err)), -EINVAL);
	snd_opt_init(&o);
	o.source = (enum snd_opt_source)7;
	assert_int_equal(snd_opt_check(&o, err, sizeof(err)), -EINVAL);
	snd_opt_init(&o);
	o.periods = 8;
	assert_int_equal(snd_opt_check(&o, err, sizeof(err)), -EINVAL);
	snd_opt_init(&o);
	o.sink_path[0] = 'x';
	memset(o.sink_path, 'x', sizeof(o.sink_path)); /* not terminated */
	o.sinks = SND_OPT_SINK_WAV;
	assert_int_equal(snd_opt_check(&o, err, sizeof(err)), -EINVAL);
}

/* ---- opening ---- */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_snd_opt.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A canonical 44-byte PCM WAV header for frames of 16-bit mono at rate,
 * then the frames (a ramp), into path. fmt_tag 1 is PCM. */
static void write_wav(const char *path, uint16_t fmt_tag, uint16_t bits, uint32_t rate,
		      uint32_t frames)
{
	uint8_t h[44] = "RIFF....WAVEfmt ";
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	put32(h + 4, 36 + frames * (bits / 8));
	put32(h + 16, 16);
	h[20] = (uint8_t)fmt_tag;
	h[22] = 1;
	put32(h + 24, rate);
	put32(h + 28, rate * (bits / 8));
	h[32] = (uint8_t)(bits / 8);
	h[34] = (uint8_t)bits;
	memcpy(h + 36, "data", 4);
	put32(h + 40, frames * (bits / 8));
	assert_int_equal(fwrite(h, 1, sizeof(h), f), sizeof(h));
	for (uint32_t i = 0; i < frames * (bits / 8); i++)
		fputc((int)(i & 0xff), f);
	fclose(f);
}

static int open_opts(const char *s, struct snd_opt *o, char *err, size_t errlen)
{
	accepted(s, o);
	return snd_opt_open(o, err, errlen);
}

static void test_open_ring(void **state)
{
	struct snd_opt o;
	char err[512] = "", hello[256];
	struct stat st;
	void *map;
	size_t n;
	int seals, rfd;

	(void)state;
	assert_int_equal(open_opts("periods=16", &o, err, sizeof(err)), 0);
	assert_true(o.ring_fd >= 0);
	assert_int_equal(o.sink_fd, -1);
	assert_int_equal(o.source_fd, -1);
	assert_int_equal(o.ring_size, cellvm_audio_ring_bytes(16, SND_OPT_PERIOD_BYTES));
	assert_int_equal(fstat(o.ring_fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, o.ring_size);
	seals = fcntl(o.ring_fd, F_GET_SEALS);
	assert_true((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
		    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
	assert_int_equal(o.cfg.playback, 1);
	assert_int_equal(o.cfg.capture, 1);
	assert_int_equal(o.cfg.ring_periods, 16);
	assert_int_equal(o.cfg.ring_period_bytes, SND_OPT_PERIOD_BYTES);
	assert_int_equal(o.cfg.sinks, SND_OPT_SINK_RING);
	assert_int_equal(o.cfg.source, SND_OPT_SOURCE_SILENCE);
	assert_int_equal(o.cfg.wav_sink_fd_index, 0);
	assert_int_equal(o.cfg.wav_source_fd_index, 0);

	/* A reader's fd is read-only: no writable shared mapping of it. */
	rfd = snd_opt_reader_fd(&o);
	assert_true(rfd >= 0);
	map = mmap(NULL, o.ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	assert_true(map == MAP_FAILED);
	map = mmap(NULL, o.ring_size, PROT_READ, MAP_SHARED, rfd, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map, 4096, PROT_READ | PROT_WRITE), -1);
	munmap(map, o.ring_size);
	close(rfd);

	n = snd_opt_reader_hello(&o, hello, sizeof(hello));
	assert_int_equal(n, strlen(hello));
	snprintf(err, sizeof(err), "{\"ring_bytes\": %zu, \"playback\": 1, \"capture\": 1}\n",
		 o.ring_size);
	assert_string_equal(hello, err);
	/* A short buffer gets a terminated prefix. */
	assert_int_equal(snd_opt_reader_hello(&o, hello, 8), 7);
	assert_int_equal(strlen(hello), 7);
	snd_opt_close(&o);
	assert_int_equal(o.ring_fd, -1);
	snd_opt_close(&o); /* idempotent */

	/* The default periods; no ring at all with sink=null. */
	assert_int_equal(open_opts("", &o, err, sizeof(err)), 0);
	assert_int_equal(o.ring_size,
			 cellvm_audio_ring_bytes(SND_OPT_DEFAULT_PERIODS, SND_OPT_PERIOD_BYTES));
	assert_int_equal(o.cfg.ring_periods, SND_OPT_DEFAULT_PERIODS);
	snd_opt_close(&o);
	assert_int_equal(open_opts("sink=null", &o, err, sizeof(err)), 0);
	assert_int_equal(o.ring_fd, -1);
	assert_int_equal(snd_opt_reader_fd(&o), -ENODEV);
	assert_int_equal(o.cfg.sinks, 0);
	snd_opt_close(&o);
}

static void test_open_files(void **state)
{
	char sink[128], src[128], opts[512], err[512] = "";
	struct snd_opt o;
	struct stat st;

	(void)state;
	snprintf(sink, sizeof(sink), "%s/out.wav", tmpdir);
	snprintf(src, sizeof(src), "%s/in.wav", tmpdir);
	write_wav(src, 1, 16, 44100, 441);
	/* A sink that exists is truncated. */
	write_wav(sink, 1, 16, 8000, 100);
	snprintf(opts, sizeof(opts), "sink=ring,sink=wav:%s,source=wav:%s", sink, src);
	assert_int_equal(open_opts(opts, &o, err, sizeof(err)), 0);
	assert_true(o.ring_fd >= 0 && o.sink_fd >= 0 && o.source_fd >= 0);
	assert_int_equal(fstat(o.sink_fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 0777, 0644); /* umask 022 (main) */
	assert_int_equal(fcntl(o.sink_fd, F_GETFL) & O_ACCMODE, O_WRONLY);
	assert_int_equal(fcntl(o.sink_fd, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(o.source_fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	/* The source is left at its start for the device. */
	assert_int_equal(lseek(o.source_fd, 0, SEEK_CUR), 0);
	/* ring at 0, then the sink, then the source. */
	assert_int_equal(o.cfg.sinks, SND_OPT_SINK_RING | SND_OPT_SINK_WAV);
	assert_int_equal(o.cfg.wav_sink_fd_index, 1);
	assert_int_equal(o.cfg.wav_source_fd_index, 2);
	assert_int_equal(o.cfg.source, SND_OPT_SOURCE_WAV);
	snd_opt_close(&o);
	assert_true(o.ring_fd == -1 && o.sink_fd == -1 && o.source_fd == -1);

	/* Without the ring the files come first. */
	snprintf(opts, sizeof(opts), "sink=wav:%s,source=wav:%s", sink, src);
	assert_int_equal(open_opts(opts, &o, err, sizeof(err)), 0);
	assert_int_equal(o.ring_fd, -1);
	assert_int_equal(o.cfg.wav_sink_fd_index, 0);
	assert_int_equal(o.cfg.wav_source_fd_index, 1);
	snd_opt_close(&o);
}

/* key (then a path under tmpdir, name) fails to open with r and a
 * message holding want; nothing is left open. */
static void open_refused(const char *key, const char *name, int want_r, const char *want)
{
	char opts[512], err[512] = "";
	struct snd_opt o;
	int r;

	snprintf(opts, sizeof(opts), "%s%s/%s", key, tmpdir, name);
	r = open_opts(opts, &o, err, sizeof(err));
	if (r != want_r)
		fail_msg("'%s': snd_opt_open = %d (%s), want %d", opts, r, err, want_r);
	check_err_printable(opts, err);
	if (!strstr(err, want))
		fail_msg("'%s': '%s' lacks '%s'", opts, err, want);
	assert_true(o.ring_fd == -1 && o.sink_fd == -1 && o.source_fd == -1);
}

static void test_open_refused(void **state)
{
	char path[128];
	FILE *f;

	(void)state;
	open_refused("source=wav:", "missing.wav", -ENOENT, "No such file");
	open_refused("sink=wav:", "no/such/dir.wav", -ENOENT, "No such file");
	open_refused("sink=wav:", "", -EINVAL, "not a regular file"); /* the directory */
	open_refused("source=wav:", "", -EINVAL, "not a regular file");

	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	open_refused("sink=wav:", "fifo", -EINVAL, "not a regular file");
	open_refused("source=wav:", "fifo", -EINVAL, "not a regular file");

	snprintf(path, sizeof(path), "%s/text.wav", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not a RIFF file at all, but long enough to hold a header of 44 bytes", f);
	fclose(f);
	open_refused("source=wav:", "text.wav", -EBADMSG, "text.wav");

	snprintf(path, sizeof(path), "%s/short.wav", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("RIFF", f);
	fclose(f);
	open_refused("source=wav:", "short.wav", -EBADMSG, "cut short");

	/* 8-bit PCM: well-formed, not a format we read. */
	snprintf(path, sizeof(path), "%s/u8.wav", tmpdir);
	write_wav(path, 1, 8, 8000, 100);
	open_refused("source=wav:", "u8.wav", -ENOTSUP, "u8.wav");

	/* A header and no sound: the device would loop nothing. */
	snprintf(path, sizeof(path), "%s/empty.wav", tmpdir);
	write_wav(path, 1, 16, 48000, 0);
	open_refused("source=wav:", "empty.wav", -EBADMSG, "holds no sound");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_defaults), cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_refused),  cmocka_unit_test(test_check),
		cmocka_unit_test(test_open_ring),      cmocka_unit_test(test_open_files),
		cmocka_unit_test(test_open_refused),
	};

	umask(022);
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
