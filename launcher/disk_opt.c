/* --disk parsing and image opening; see disk_opt.h. Runs in the launcher's
 * processes (cellvm run, cellvm-broker); the option string is user input. */
#include "launcher/disk_opt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/parse.h"

static int disk_opt_bool(const char *v, bool *ret)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*ret = true;
	else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int disk_opt_parse(const char *s, struct disk_opt *ret, char *err, size_t errlen)
{
	char buf[PATH_MAX + 256], *save = NULL, *tok;
	uint32_t q;

	memset(ret, 0, sizeof(*ret));
	ret->image_fd = ret->fd = -1;
	ret->queues = 1;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "option too long");
		return -EINVAL;
	}
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *key = tok, *val;
		if (!eq) {
			snprintf(err, errlen, "'%s' is not key=value", tok);
			return -EINVAL;
		}
		*eq = 0;
		val = eq + 1;
		if (strcmp(key, "path") == 0) {
			if (!*val || strlen(val) >= sizeof(ret->path)) {
				snprintf(err, errlen, "path is empty or too long");
				return -EINVAL;
			}
			strcpy(ret->path, val);
		} else if (strcmp(key, "readonly") == 0) {
			if (disk_opt_bool(val, &ret->readonly) < 0)
				goto badval;
		} else if (strcmp(key, "direct") == 0) {
			if (disk_opt_bool(val, &ret->direct) < 0)
				goto badval;
		} else if (strcmp(key, "serial") == 0) {
			if (strlen(val) > DISK_SERIAL_MAX) {
				snprintf(err, errlen, "serial longer than %d bytes",
					 DISK_SERIAL_MAX);
				return -EINVAL;
			}
			for (const char *c = val; *c; c++)
				if (*c < 0x20 || *c > 0x7e) {
					snprintf(err, errlen, "serial must be printable ASCII");
					return -EINVAL;
				}
			strcpy(ret->serial, val);
		} else if (strcmp(key, "queues") == 0) {
			if (parse_u32(val, 1, DISK_MAX_QUEUES, &q) < 0) {
				snprintf(err, errlen, "queues must be 1 to %d", DISK_MAX_QUEUES);
				return -EINVAL;
			}
			ret->queues = q;
		} else if (strcmp(key, "transport") == 0) {
			if (strcmp(val, "pci") == 0) {
				ret->transport = "pci";
			} else if (strcmp(val, "mmio") == 0) {
				ret->transport = "mmio";
			} else {
				snprintf(err, errlen, "transport: '%.40s' is not pci or mmio", val);
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "unknown key '%s'", key);
			return -EINVAL;
		}
		continue;
	badval:
		snprintf(err, errlen, "%s: '%s' is not on or off", key, val);
		return -EINVAL;
	}
	if (!ret->path[0]) {
		snprintf(err, errlen, "path= is required");
		return -EINVAL;
	}
	cellvm__device__blk_config__init(&ret->blk);
	ret->blk.readonly = ret->readonly;
	ret->blk.direct = ret->direct;
	ret->blk.serial = ret->serial;
	ret->blk.num_queues = ret->queues;
	ret->blk.queue_size = 256;
	return 0;
}

int disk_opt_image_flags(const struct disk_opt *d)
{
	return (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
}

int disk_opt_check_image(int fd, bool readonly, const char *what, char *err, size_t errlen)
{
	struct stat st;
	int fl, r;

	if (fstat(fd, &st) < 0 || (fl = fcntl(fd, F_GETFL)) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", what, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file or block device", what);
		return -EINVAL;
	}
	if ((fl & O_ACCMODE) != (readonly ? O_RDONLY : O_RDWR)) {
		snprintf(err, errlen, "%s: %s", what,
			 readonly ? "a read-only disk needs a file open read-only (O_RDONLY)"
				  : "a read-write disk needs a file open read-write (O_RDWR)");
		return -EBADF;
	}
	if ((fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", what, strerror(-r));
		return r;
	}
	return 0;
}

int disk_opt_lock_image(int fd, bool readonly, const char *what, char *err, size_t errlen)
{
	struct flock l = {.l_type = readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	int r;

	if (fcntl(fd, F_OFD_SETLK, &l) == 0)
		return 0;
	r = -errno;
	if (r == -EAGAIN || r == -EACCES) {
		snprintf(err, errlen, "%s: the image is in use by another VM (%s)", what,
			 readonly ? "it is attached read-write there"
				  : "it is attached there, read-write or read-only");
		return -EBUSY;
	}
	snprintf(err, errlen, "%s: cannot lock the image: %s", what, strerror(-r));
	return r;
}

int disk_opt_open_image(struct disk_opt *d, char *err, size_t errlen)
{
	int r;

	disk_opt_close_image(d);
	d->image_fd = open(d->path, disk_opt_image_flags(d));
	if (d->image_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", d->path, strerror(errno));
		return r;
	}
	r = disk_opt_check_image(d->image_fd, d->readonly, d->path, err, errlen);
	if (r >= 0)
		r = disk_opt_lock_image(d->image_fd, d->readonly, d->path, err, errlen);
	if (r < 0)
		disk_opt_close_image(d);
	return r;
}

void disk_opt_close_image(struct disk_opt *d)
{
	if (d->image_fd >= 0)
		close(d->image_fd);
	d->image_fd = -1;
}

int disk_opt_open(struct disk_opt *d, char *err, size_t errlen)
{
	char proc[64];
	struct stat a, b;
	int fl, r;

	d->blk.serial = d->serial; /* the struct may have been copied */
	if (d->image_fd < 0 || (fl = fcntl(d->image_fd, F_GETFL)) < 0) {
		snprintf(err, errlen, "%s: the image is not open", d->path);
		return -EBADF;
	}
	/* The same file, reopened through our own fd (never the name again),
	 * with the same access: an open file of its own for the device, so the
	 * lock stays on the front end's alone. It goes when the front end
	 * closes the image (or exits), not when the last of the device's
	 * processes does, and a device cannot unlock it. O_DIRECT here, where
	 * the file system may refuse it (EINVAL: the user's choice). */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d->image_fd);
	d->fd = open(proc, (fl & O_ACCMODE) | O_CLOEXEC | O_NOCTTY | (d->direct ? O_DIRECT : 0));
	if (d->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s%s", d->path, d->direct ? "direct=on: " : "",
			 strerror(-r));
		return r;
	}
	if (fstat(d->image_fd, &a) < 0 || fstat(d->fd, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		snprintf(err, errlen, "%s: the image changed under its fd", d->path);
		disk_opt_close(d);
		return -ESTALE;
	}
	return 0;
}

void disk_opt_close(struct disk_opt *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
