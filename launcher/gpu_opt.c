/* The display options; see gpu_opt.h. Runs in cellvm run and cellvm-broker
 * (root): the strings are the user's, checked before anything starts. */
#include "launcher/gpu_opt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/parse.h"
#include "proto/channel.h"
#include "dev-procs/gpu/capture.h"

#define GPU_OPT_DEFAULT_W 1024
#define GPU_OPT_DEFAULT_H 768

void gpu_opt_init(struct gpu_opt *o)
{
	memset(o, 0, sizeof(*o));
	o->modes[0][0] = GPU_OPT_DEFAULT_W;
	o->modes[0][1] = GPU_OPT_DEFAULT_H;
	o->nscanouts = 1;
	o->ring_fd = -1;
	o->present_fd = -1;
}

int gpu_opt_check(const struct gpu_opt *o, char *err, size_t errlen)
{
	if (o->nscanouts < 1 || o->nscanouts > GPU_OPT_MAX_SCANOUTS) {
		snprintf(err, errlen, "%u scanouts: 1 to %d", o->nscanouts, GPU_OPT_MAX_SCANOUTS);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < o->nscanouts; i++) {
		for (int d = 0; d < 2; d++) {
			if (o->modes[i][d] < GPU_OPT_MIN_MODE ||
			    o->modes[i][d] > GPU_OPT_MAX_MODE) {
				snprintf(err, errlen,
					 "scanout %u: %ux%u: each side is %d to %d pixels", i,
					 o->modes[i][0], o->modes[i][1], GPU_OPT_MIN_MODE,
					 GPU_OPT_MAX_MODE);
				return -EINVAL;
			}
		}
	}
	if (o->budget && (o->budget < GPU_OPT_MIN_BUDGET || o->budget > GPU_OPT_MAX_BUDGET)) {
		snprintf(err, errlen, "budget %llu bytes: 16M to 4G",
			 (unsigned long long)o->budget);
		return -EINVAL;
	}
	if (o->slots && (o->slots < 2 || o->slots > GPU_OPT_MAX_SLOTS)) {
		snprintf(err, errlen, "slots %u: 2 to %d", o->slots, GPU_OPT_MAX_SLOTS);
		return -EINVAL;
	}
	if (o->present_path[0] && o->present_path[0] != '/') {
		snprintf(err, errlen, "present=%s: an absolute path of a DRM device",
			 o->present_path);
		return -EINVAL;
	}
	if (o->present_path[0] && o->present_scanout >= o->nscanouts) {
		snprintf(err, errlen, "present=%s:%u: there are %u scanouts", o->present_path,
			 o->present_scanout, o->nscanouts);
		return -EINVAL;
	}
	return 0;
}

/* "PATH[:S]": the node, and the scanout when a ':' and digits end it. */
static int gpu_opt_parse_present(const char *s, struct gpu_opt *o)
{
	const char *colon = strrchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);

	o->present_scanout = 0;
	if (colon && parse_u32(colon + 1, 0, GPU_OPT_MAX_SCANOUTS - 1, &o->present_scanout) < 0)
		return -EINVAL;
	if (n == 0 || n >= sizeof(o->present_path))
		return -EINVAL;
	memcpy(o->present_path, s, n);
	o->present_path[n] = '\0';
	return 0;
}

/* "WxH": both sides as decimal numbers (checked against the limits later). */
static int gpu_opt_parse_mode(const char *s, uint32_t *w, uint32_t *h)
{
	const char *x = strchr(s, 'x');
	char side[16];
	size_t n;

	if (!x || (size_t)(x - s) >= sizeof(side))
		return -EINVAL;
	n = (size_t)(x - s);
	memcpy(side, s, n);
	side[n] = '\0';
	if (parse_u32(side, 1, 65535, w) < 0 || parse_u32(x + 1, 1, 65535, h) < 0)
		return -EINVAL;
	return 0;
}

int gpu_opt_parse(const char *s, struct gpu_opt *o, char *err, size_t errlen)
{
	char buf[256], *save = NULL;
	uint32_t n = 0;

	gpu_opt_init(o);
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "'%.32s...': too long", s);
		return -EINVAL;
	}
	strcpy(buf, s);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "budget=", 7) == 0) {
			if (parse_size(tok + 7, &o->budget) < 0 || o->budget == 0) {
				snprintf(err, errlen, "'%s': budget=SIZE (16M to 4G)", tok);
				return -EINVAL;
			}
		} else if (strncmp(tok, "slots=", 6) == 0) {
			if (parse_u32(tok + 6, 2, GPU_OPT_MAX_SLOTS, &o->slots) < 0) {
				snprintf(err, errlen, "'%s': slots=N (2 to %d)", tok,
					 GPU_OPT_MAX_SLOTS);
				return -EINVAL;
			}
		} else if (strncmp(tok, "present=", 8) == 0) {
			if (gpu_opt_parse_present(tok + 8, o) < 0) {
				snprintf(err, errlen,
					 "'%s': present=PATH[:SCANOUT] (a DRM device, scanout "
					 "0 to %d)",
					 tok, GPU_OPT_MAX_SCANOUTS - 1);
				return -EINVAL;
			}
		} else {
			if (n == GPU_OPT_MAX_SCANOUTS) {
				snprintf(err, errlen, "more than %d scanouts",
					 GPU_OPT_MAX_SCANOUTS);
				return -EINVAL;
			}
			if (gpu_opt_parse_mode(tok, &o->modes[n][0], &o->modes[n][1]) < 0) {
				snprintf(err, errlen,
					 "'%s': not WIDTHxHEIGHT, budget=SIZE, slots=N or "
					 "present=PATH",
					 tok);
				return -EINVAL;
			}
			n++;
		}
	}
	if (n)
		o->nscanouts = n;
	return gpu_opt_check(o, err, errlen);
}

/* The present= node: only a DRM character device, opened read-write
 * (modesetting); the device checks it again. The path is looked at through
 * an O_PATH fd first and that very inode opened afterwards, so nothing else
 * is ever opened (opening some devices does something: a watchdog starts, a
 * tape rewinds). */
static int gpu_opt_open_present(struct gpu_opt *o, char *err, size_t errlen)
{
	char proc[64];
	struct stat st;
	int pfd, fd, r;

	pfd = open(o->present_path, O_PATH | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "present=%s: %s", o->present_path, strerror(-r));
		if (pfd >= 0)
			close(pfd);
		return r;
	}
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != GPU_OPT_DRM_MAJOR) {
		snprintf(err, errlen,
			 "present=%s: not a DRM device (a character device of major %d, "
			 "like /dev/dri/card0)",
			 o->present_path, GPU_OPT_DRM_MAJOR);
		close(pfd);
		return -ENODEV;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDWR | O_CLOEXEC | O_NOCTTY);
	r = fd < 0 ? -errno : 0;
	close(pfd);
	if (r < 0) {
		snprintf(err, errlen, "present=%s: %s", o->present_path, strerror(-r));
		return r;
	}
	o->present_fd = fd;
	return 0;
}

int gpu_opt_open(struct gpu_opt *o, char *err, size_t errlen)
{
	uint32_t mw = 0, mh = 0, slots = o->slots ? o->slots : 3;
	size_t bytes;
	int fd, r;

	for (uint32_t i = 0; i < o->nscanouts; i++) {
		mw = o->modes[i][0] > mw ? o->modes[i][0] : mw;
		mh = o->modes[i][1] > mh ? o->modes[i][1] : mh;
	}
	bytes = capture_ring_bytes(slots, mw, mh);
	if (bytes == 0) {
		snprintf(err, errlen, "no capture ring of %u slots of %ux%u", slots, mw, mh);
		return -EINVAL;
	}
	if (o->present_path[0]) {
		r = gpu_opt_open_present(o, err, errlen);
		if (r < 0)
			return r;
	}
	fd = memfd_create("cellvm-capture", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "capture ring: memfd_create: %s", strerror(-r));
		gpu_opt_close(o);
		return r;
	}
	if (ftruncate(fd, (off_t)bytes) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		snprintf(err, errlen, "capture ring of %zu bytes: %s", bytes, strerror(-r));
		close(fd);
		gpu_opt_close(o);
		return r;
	}
	o->ring_fd = fd;
	o->ring_size = bytes;
	cellvm__device__gpu_config__init(&o->cfg);
	for (uint32_t i = 0; i < o->nscanouts; i++) {
		cellvm__device__gpu_scanout__init(&o->so[i]);
		o->so[i].width = o->modes[i][0];
		o->so[i].height = o->modes[i][1];
		o->pso[i] = &o->so[i];
	}
	o->cfg.n_scanouts = o->nscanouts;
	o->cfg.scanouts = o->pso;
	o->cfg.max_host_bytes = o->budget;
	o->cfg.ring_slots = slots;
	o->cfg.ring_max_width = mw;
	o->cfg.ring_max_height = mh;
	if (o->present_fd >= 0) {
		o->cfg.present_fd_index = GPU_OPT_PRESENT_INDEX;
		o->cfg.present_scanout = o->present_scanout;
	}
	return 0;
}

int gpu_opt_reader_fd(const struct gpu_opt *o)
{
	char path[64];
	int fd;

	if (o->ring_fd < 0)
		return -ENOENT;
	/* A new open file description, read-only: mmap of it cannot be
	 * PROT_WRITE with MAP_SHARED, nor mprotect'ed so. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", o->ring_fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void gpu_opt_close(struct gpu_opt *o)
{
	if (o->ring_fd >= 0)
		close(o->ring_fd);
	if (o->present_fd >= 0)
		close(o->present_fd);
	o->ring_fd = -1;
	o->present_fd = -1;
}

size_t gpu_opt_reader_hello(const struct gpu_opt *o, char *buf, size_t len)
{
	size_t n = 0;
	int w;

	w = snprintf(buf, len, "{\"ring_bytes\": %zu, \"scanouts\": [", o->ring_size);
	n = w > 0 ? (size_t)w : 0;
	for (uint32_t i = 0; i < o->nscanouts && n < len; i++) {
		w = snprintf(buf + n, len - n, "%s[%u, %u]", i ? ", " : "", o->modes[i][0],
			     o->modes[i][1]);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n < len) {
		w = snprintf(buf + n, len - n, "]}\n");
		n += w > 0 ? (size_t)w : 0;
	}
	return n < len ? n : len - 1;
}
