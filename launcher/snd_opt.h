/* A VM's sound card: --snd of cellvm run and the snd of a cellvm-broker VM
 * definition (broker_vmdef.c builds the same struct): its playback and
 * capture streams, where playback goes (the audio capture ring, a WAV
 * file, nowhere) and where capture comes from (silence, a WAV file; sound
 * pushed through the API replaces either while it lasts, AudioSource). The
 * ring (proto/audio_ring.h) is a memfd made and sealed here, kept for the
 * VM's life, that readers get read-only (snd_opt_reader_fd) with an eventfd
 * of their own (CaptureSubscribe, as for the frame ring). User input,
 * checked here. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"

#define SND_OPT_MAX_STREAMS	4 /* per direction */
#define SND_OPT_MIN_PERIODS	16
#define SND_OPT_MAX_PERIODS	4096
#define SND_OPT_DEFAULT_PERIODS 256
#define SND_OPT_PERIOD_BYTES	(64u << 10) /* the most PCM per ring period */
#define SND_OPT_MAX_READERS	16	    /* the device's SND_MAX_READERS */
#define SND_OPT_PATH		256	    /* the longest wav: path */

/* SndConfig.sinks bits */
#define SND_OPT_SINK_RING 1u
#define SND_OPT_SINK_WAV  2u

/* SndConfig.source */
enum snd_opt_source { SND_OPT_SOURCE_SILENCE = 0, SND_OPT_SOURCE_WAV = 1 };

struct snd_opt {
	uint32_t playback;	      /* output streams, 0..4 (1 by default) */
	uint32_t capture;	      /* input streams, 0..4 (1 by default) */
	uint32_t periods;	      /* ring periods; 0: SND_OPT_DEFAULT_PERIODS */
	uint32_t max_channels;	      /* offered per stream; 0: 2 */
	uint32_t sinks;		      /* SND_OPT_SINK_*; SND_OPT_SINK_RING by default */
	char sink_path[SND_OPT_PATH]; /* with SND_OPT_SINK_WAV: the file made */
	enum snd_opt_source source;
	char source_path[SND_OPT_PATH]; /* with SND_OPT_SOURCE_WAV */
	/* Filled by snd_opt_open(). */
	int ring_fd;	  /* the ring memfd (read-write: the device's), -1: none */
	int sink_fd;	  /* the WAV sink, -1: none */
	int source_fd;	  /* the WAV source, -1: none */
	size_t ring_size; /* its bytes */
	Cellvm__Device__SndConfig cfg;
};

/* One playback and one capture stream, the ring as sink, silence as source;
 * fds -1. */
void snd_opt_init(struct snd_opt *o);
/* Parse "[playback=N][,capture=N][,periods=N][,channels=N]
 * [,sink=ring|null|wav:PATH][,source=silence|wav:PATH]" ("" or "on": the
 * defaults) into *o. sink= may be given twice (ring and a file). Returns 0
 * or -EINVAL with a message in err. */
int snd_opt_parse(const char *s, struct snd_opt *o, char *err, size_t errlen);
/* Check options a definition filled in (the same limits). Returns 0 or
 * -EINVAL with a message in err. */
int snd_opt_check(const struct snd_opt *o, char *err, size_t errlen);
/* Make the ring (sealed against shrinking and growing), create the WAV
 * sink (O_CREAT|O_TRUNC, 0644) and open the WAV source (checked to be a
 * WAV in a format we read), and make the device's configuration. Returns 0
 * or -errno with a message in err (-ENOENT/-EACCES/-EBADMSG/-ENOTSUP are the
 * user's fault); nothing is left open on failure. */
int snd_opt_open(struct snd_opt *o, char *err, size_t errlen);
/* A new read-only fd of the ring, for one reader. Returns the fd or -errno
 * (-ENODEV: no ring sink). */
int snd_opt_reader_fd(const struct snd_opt *o);
void snd_opt_close(struct snd_opt *o);

/* Over the snd device's control channel ctl: a WAV stream for the capture
 * streams arrives (AudioSource, fd sent, not consumed). Returns 0 or
 * -errno. Audio readers come and go with launcher_reader_subscribe/
 * _unsubscribe (launcher.h; the device refuses, and logs, more than
 * SND_OPT_MAX_READERS). */
int snd_opt_audio_source(int ctl, uint64_t id, int fd);
/* What a reader is told with its fds: one line of JSON, {"ring_bytes": N,
 * "playback": P, "capture": C}. Writes into buf; returns its length. */
size_t snd_opt_reader_hello(const struct snd_opt *o, char *buf, size_t len);
