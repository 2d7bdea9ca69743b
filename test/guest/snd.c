/* cellvm-check-snd: the test guest's sound check, through the kernel's own
 * virtio-snd driver and its ALSA PCM interface directly (the ioctls of
 * <sound/asound.h>; no alsa-lib in the test guest). Modes:
 *   list                  the ALSA device list: /proc/asound/cards and
 *                         /proc/asound/pcm, and the kernel's lines about
 *                         virtio-snd; fails without a card
 *   play FREQ SECONDS     a sine of FREQ Hz, S16_LE, 48000 Hz, stereo, for
 *                         SECONDS on card 0's first playback PCM (hw:0,0,
 *                         /dev/snd/pcmC0D0p, unless the driver grouped the
 *                         streams otherwise), drained
 *   record SECONDS [NAME] S16_LE at 48000 Hz from card 0's first capture PCM
 *                         (/dev/snd/pcmC0D0c); the last second's dominant
 *                         frequency (50..5000 Hz) and RMS (of full scale 1),
 *                         as the check's data, or as a CELLVM-SND-REC NAME
 *                         line for a recording before the last
 * Output lines:
 *   CELLVM-KMSG <a kernel log line about virtio_snd>
 *   CELLVM-SND-CARD <a line of /proc/asound/cards>
 *   CELLVM-SND-PCM <a line of /proc/asound/pcm>
 *   CELLVM-SND params <dev> rate=<hz> channels=<n> period=<frames> buffer=<frames>
 *   CELLVM-SND played frames=<n> xruns=<n>
 *   CELLVM-DATA snd freq=<hz> rms=<x> frames=<n> channels=<n> xruns=<n>
 *   CELLVM-SND-REC <name> freq=<hz> rms=<x> frames=<n> channels=<n> xruns=<n>
 * The host (test/guest/guest_check.py, check snd) follows what is played
 * through the audio ring and pushes the sound recorded. Runs in the guest;
 * statically linked. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sound/asound.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guest_util.h"
#include "tone.h"

#define SND_RATE      48000
#define SND_PERIOD_MS 20
/* Eight periods: a 160 ms buffer. Linux's virtio-snd gives a transfer
 * about a buffer's time to come back before it fails the stream with EIO;
 * the emulated KVM host's one CPU has stalled the device process 85 ms once
 * (an 80 ms buffer then failed the guest's capture). */
#define SND_PERIODS 8
#define SND_AMP	    0.5 /* of full scale */

struct pcm {
	int fd;
	const char *dev;
	uint32_t channels;
	snd_pcm_uframes_t period, buffer;
	uint32_t xruns;
};

static void die(const char *what)
{
	printf("CELLVM-SND error %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

static struct snd_mask *hw_mask(struct snd_pcm_hw_params *p, int param)
{
	return &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
}

static struct snd_interval *hw_interval(struct snd_pcm_hw_params *p, int param)
{
	return &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}

/* Everything allowed, as alsa-lib's snd_pcm_hw_params_any starts. */
static void hw_any(struct snd_pcm_hw_params *p)
{
	memset(p, 0, sizeof(*p));
	for (int k = SNDRV_PCM_HW_PARAM_FIRST_MASK; k <= SNDRV_PCM_HW_PARAM_LAST_MASK; k++)
		memset(hw_mask(p, k), 0xff, sizeof(struct snd_mask));
	for (int k = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; k <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; k++)
		hw_interval(p, k)->max = UINT_MAX;
	p->rmask = ~0u;
	p->info = ~0u;
}

static void hw_set_mask(struct snd_pcm_hw_params *p, int param, unsigned int bit)
{
	struct snd_mask *m = hw_mask(p, param);

	memset(m, 0, sizeof(*m));
	m->bits[bit / 32] = 1u << (bit % 32);
}

static void hw_set_int(struct snd_pcm_hw_params *p, int param, unsigned int v)
{
	struct snd_interval *i = hw_interval(p, param);

	i->min = i->max = v;
	i->openmin = i->openmax = 0;
	i->integer = 1;
}

/* Narrow param to want (clamped into what is still allowed) if the driver
 * agrees; else leave it open for HW_PARAMS to choose. */
static void hw_prefer(int fd, struct snd_pcm_hw_params *p, int param, unsigned int want)
{
	struct snd_pcm_hw_params t = *p;
	struct snd_interval *i = hw_interval(&t, param);

	if (want < i->min)
		want = i->min;
	if (want > i->max)
		want = i->max;
	hw_set_int(&t, param, want);
	t.rmask = ~0u;
	if (xioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, &t) == 0)
		*p = t;
}

/* Open dev and set S16_LE, interleaved, SND_RATE, stereo (mono when the
 * stream has only one channel), periods of SND_PERIOD_MS. */
static void pcm_open(struct pcm *s, const char *dev, bool capture)
{
	struct snd_pcm_hw_params hw, mono;
	struct snd_pcm_sw_params sw;

	s->dev = dev;
	s->xruns = 0;
	s->fd = open(dev, O_RDWR | O_CLOEXEC);
	if (s->fd < 0)
		die(dev);
	hw_any(&hw);
	hw_set_mask(&hw, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
	hw_set_mask(&hw, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
	hw_set_mask(&hw, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
	hw_set_int(&hw, SNDRV_PCM_HW_PARAM_RATE, SND_RATE);
	mono = hw;
	hw_set_int(&hw, SNDRV_PCM_HW_PARAM_CHANNELS, 2);
	hw_set_int(&mono, SNDRV_PCM_HW_PARAM_CHANNELS, 1);
	if (xioctl(s->fd, SNDRV_PCM_IOCTL_HW_REFINE, &hw) < 0) {
		hw = mono;
		if (xioctl(s->fd, SNDRV_PCM_IOCTL_HW_REFINE, &hw) < 0)
			die("HW_REFINE (S16_LE, 48000 Hz, 1 or 2 channels)");
	}
	hw_prefer(s->fd, &hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, SND_RATE * SND_PERIOD_MS / 1000);
	hw_prefer(s->fd, &hw, SNDRV_PCM_HW_PARAM_PERIODS, SND_PERIODS);
	hw.rmask = ~0u;
	/* The kernel chooses what is still open (the smallest, the largest
	 * buffer). */
	if (xioctl(s->fd, SNDRV_PCM_IOCTL_HW_PARAMS, &hw) < 0)
		die("HW_PARAMS");
	s->channels = hw_interval(&hw, SNDRV_PCM_HW_PARAM_CHANNELS)->min;
	s->period = hw_interval(&hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE)->min;
	s->buffer = hw_interval(&hw, SNDRV_PCM_HW_PARAM_BUFFER_SIZE)->min;

	/* Playback starts with a full buffer (the guest is slow under
	 * emulation: a buffer started early would underrun); capture on the
	 * first read. */
	memset(&sw, 0, sizeof(sw));
	sw.tstamp_mode = SNDRV_PCM_TSTAMP_NONE;
	sw.period_step = 1;
	sw.avail_min = s->period;
	sw.xfer_align = 1;
	sw.start_threshold = capture ? 1 : s->buffer;
	sw.stop_threshold = s->buffer;
	sw.proto = SNDRV_PCM_VERSION;
	if (xioctl(s->fd, SNDRV_PCM_IOCTL_SW_PARAMS, &sw) < 0)
		die("SW_PARAMS");
	if (xioctl(s->fd, SNDRV_PCM_IOCTL_PREPARE, NULL) < 0)
		die("PREPARE");
	printf("CELLVM-SND params %s rate=%d channels=%u period=%lu buffer=%lu\n", dev, SND_RATE,
	       s->channels, (unsigned long)s->period, (unsigned long)s->buffer);
	fflush(stdout);
}

/* Card 0's first PCM device node of a direction ('p' or 'c'): virtio-snd
 * makes one PCM device per function group of the streams, so playback and
 * capture need not share device 0. */
static const char *pcm_find(char dir)
{
	static char path[64];

	for (int d = 0; d < 32; d++) {
		snprintf(path, sizeof(path), "/dev/snd/pcmC0D%d%c", d, dir);
		if (access(path, F_OK) == 0)
			return path;
	}
	errno = ENOENT;
	die(dir == 'p' ? "no playback PCM on card 0" : "no capture PCM on card 0");
	return NULL;
}

static int snd_play(double freq, double seconds)
{
	struct pcm s;
	size_t frames = (size_t)(seconds * SND_RATE), done = 0;
	int16_t *buf;

	pcm_open(&s, pcm_find('p'), false);
	buf = malloc(frames * s.channels * sizeof(*buf));
	if (!buf)
		die("malloc");
	for (size_t i = 0; i < frames; i++) {
		int16_t v = (int16_t)lrint(32767.0 * tone_sample(freq, SND_RATE, SND_AMP, i));

		for (uint32_t c = 0; c < s.channels; c++)
			buf[i * s.channels + c] = v;
	}
	while (done < frames) {
		size_t n = frames - done < s.period ? frames - done : s.period;
		struct snd_xferi x = {.buf = buf + done * s.channels, .frames = n};

		if (xioctl(s.fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
			if (errno != EPIPE)
				die("WRITEI_FRAMES");
			s.xruns++; /* underrun: start again */
			if (xioctl(s.fd, SNDRV_PCM_IOCTL_PREPARE, NULL) < 0)
				die("PREPARE");
			continue;
		}
		done += (size_t)x.result;
	}
	/* Until every frame has been played. */
	if (xioctl(s.fd, SNDRV_PCM_IOCTL_DRAIN, NULL) < 0)
		die("DRAIN");
	printf("CELLVM-SND played frames=%zu xruns=%u\n", frames, s.xruns);
	fflush(stdout);
	free(buf);
	close(s.fd);
	return 0;
}

static int snd_record(double seconds, const char *name)
{
	struct pcm s;
	size_t frames = (size_t)(seconds * SND_RATE), done = 0, last;
	int16_t *buf;
	float *mono;
	double freq, rms;

	pcm_open(&s, pcm_find('c'), true);
	buf = malloc(frames * s.channels * sizeof(*buf));
	mono = malloc(frames * sizeof(*mono));
	if (!buf || !mono)
		die("malloc");
	while (done < frames) {
		size_t n = frames - done < s.period ? frames - done : s.period;
		struct snd_xferi x = {.buf = buf + done * s.channels, .frames = n};

		if (xioctl(s.fd, SNDRV_PCM_IOCTL_READI_FRAMES, &x) < 0) {
			if (errno != EPIPE)
				die("READI_FRAMES");
			s.xruns++; /* overrun: start again */
			if (xioctl(s.fd, SNDRV_PCM_IOCTL_PREPARE, NULL) < 0)
				die("PREPARE");
			continue;
		}
		done += (size_t)x.result;
	}
	(void)xioctl(s.fd, SNDRV_PCM_IOCTL_DROP, NULL);
	close(s.fd);
	for (size_t i = 0; i < frames; i++) {
		int32_t sum = 0;

		for (uint32_t c = 0; c < s.channels; c++)
			sum += buf[i * s.channels + c];
		mono[i] = (float)sum / (float)s.channels / 32768.0f;
	}
	/* The last second: the host's sound may start after the stream did. */
	last = frames < SND_RATE ? frames : SND_RATE;
	freq = tone_dominant(mono + frames - last, last, SND_RATE, 50, 5000);
	rms = tone_rms(mono + frames - last, last);
	if (name)
		printf("CELLVM-SND-REC %s ", name);
	else
		printf("CELLVM-DATA snd ");
	printf("freq=%.2f rms=%.4f frames=%zu channels=%u xruns=%u\n", freq, rms, frames,
	       s.channels, s.xruns);
	fflush(stdout);
	free(buf);
	free(mono);
	return 0;
}

/* Each line of path, prefixed. Returns the number of lines. */
static int print_file(const char *path, const char *prefix)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		printf("%s (%s: %s)\n", prefix, path, strerror(errno));
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		printf("%s %s\n", prefix, line);
		n++;
	}
	fclose(f);
	return n;
}

static int snd_list(void)
{
	static const char *const words[] = {"virtio_snd", "virtio-snd", "ALSA", NULL};
	int cards, pcms;

	guest_print_kmsg(words);
	cards = print_file("/proc/asound/cards", "CELLVM-SND-CARD");
	pcms = print_file("/proc/asound/pcm", "CELLVM-SND-PCM");
	fflush(stdout);
	return cards > 0 && pcms > 0 ? 0 : 1;
}

static double arg_num(const char *s, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || v < lo || v > hi) {
		fprintf(stderr, "cellvm-check-snd: '%s': a number from %g to %g\n", s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return snd_list();
	if (argc == 4 && strcmp(argv[1], "play") == 0)
		return snd_play(arg_num(argv[2], 20, 20000), arg_num(argv[3], 0.1, 60));
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "record") == 0)
		return snd_record(arg_num(argv[2], 0.2, 60), argc == 4 ? argv[3] : NULL);
	fprintf(stderr,
		"usage: cellvm-check-snd list | play FREQ SECONDS | record SECONDS [NAME]\n");
	return 2;
}
