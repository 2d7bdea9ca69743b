/* VM definitions of cellvm-broker: JSON to struct broker_vmdef and back, and the
 * files a definition names, opened once on the tenant's behalf. Runs in the
 * broker. UNTRUSTED(client): everything in a POST /vm.create body (and the RPC
 * equivalent, with the fds it passed) passes through broker_vmdef_from_json; it
 * is strict: unknown fields, wrong types and out-of-range numbers are errors,
 * never defaults. The files below a tenant's image_dir are the tenant's: they
 * may change under us at any time, so they are opened beneath an fd of that
 * directory without following a symlink, and only the fds are used after. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/parse.h"
#include "proto/audio_ring.h"
#include "proto/input_event.h"

#define DEF_DEFAULT_MEMORY (256ULL << 20)

/* A string member. -EINVAL for anything else (JSON null included: json-c
 * gives NULL for it), a string with an embedded NUL or longer than max. */
static int broker_vmdef_string(json_object *o, const char *what, size_t max, const char **ret,
			       char *err, size_t errlen)
{
	const char *s;

	*ret = NULL;
	if (!o || !json_object_is_type(o, json_type_string)) {
		snprintf(err, errlen, "%s: must be a string", what);
		return -EINVAL;
	}
	s = json_object_get_string(o);
	if ((size_t)json_object_get_string_len(o) != strlen(s) || strlen(s) > max) {
		snprintf(err, errlen, "%s: embedded NUL or longer than %zu bytes", what, max);
		return -EINVAL;
	}
	*ret = s;
	return 0;
}

static int broker_vmdef_uint(json_object *o, const char *what, uint64_t min, uint64_t max,
			     uint64_t *ret, char *err, size_t errlen)
{
	int64_t v;

	/* Integers beyond int64 come back saturated: out of range either way. */
	if (!json_object_is_type(o, json_type_int)) {
		snprintf(err, errlen, "%s: must be an integer", what);
		return -EINVAL;
	}
	v = json_object_get_int64(o);
	if (v < 0 || (uint64_t)v < min || (uint64_t)v > max || v == INT64_MAX) {
		snprintf(err, errlen, "%s: must be from %llu to %llu", what,
			 (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*ret = (uint64_t)v;
	return 0;
}

#define DEF_FD_MAX 64 /* "fd:N": at most IPC_MAX_FDS fds come with one request */

/* Whether p names an fd passed with the request ("fd:N") rather than a file. */
static bool broker_vmdef_is_fd(const char *p)
{
	return strncmp(p, BROKER_VMDEF_FD_PREFIX, strlen(BROKER_VMDEF_FD_PREFIX)) == 0;
}

/* "fd:N" with N from 1 to DEF_FD_MAX, else 0. */
static unsigned broker_vmdef_fd_index(const char *p)
{
	const char *n = p + strlen(BROKER_VMDEF_FD_PREFIX);
	unsigned v = 0;

	if (!broker_vmdef_is_fd(p) || !*n || *n == '0' || strlen(n) > 2)
		return 0;
	for (; *n; n++) {
		if (!isdigit((unsigned char)*n))
			return 0;
		v = v * 10 + (unsigned)(*n - '0');
	}
	return v <= DEF_FD_MAX ? v : 0;
}

/* Paths are opened by the privileged broker: absolute, no "..", and below the
 * tenant's image directory when it has one (its image_dir ends in '/': /srv/a
 * never admits /srv/ab); or "fd:N", an fd passed with an RPC create. Checked
 * lexically here; broker_vmdef_open resolves them without following links. */
static int broker_vmdef_path(const struct tenant *t, const char *what, const char *p, char *out,
			     char *err, size_t errlen)
{
	if (broker_vmdef_is_fd(p)) {
		if (!broker_vmdef_fd_index(p)) {
			snprintf(err, errlen, "%s: '%.8s' is not fd:N with N from 1 to %d", what, p,
				 DEF_FD_MAX);
			return -EINVAL;
		}
		goto ok;
	}
	if (p[0] != '/' || strlen(p) >= PATH_MAX || strstr(p, "/../") ||
	    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0)) {
		snprintf(err, errlen, "%s: must be an absolute path without '..'", what);
		return -EINVAL;
	}
	if (!t)
		goto ok; /* reloading our own state file: opened (and checked) at boot */
	/* The broker opens these files as root: a tenant only gets its own. */
	if (!t->admin && !t->image_dir[0]) {
		snprintf(err, errlen, "%s: tenant %s has no image_dir in the configuration", what,
			 t->name);
		return -EINVAL;
	}
	if (t->image_dir[0] &&
	    (strncmp(p, t->image_dir, strlen(t->image_dir)) != 0 || !p[strlen(t->image_dir)])) {
		snprintf(err, errlen, "%s: not below this tenant's image directory", what);
		return -EINVAL;
	}
ok:
	if (out != p)
		strcpy(out, p);
	return 0;
}

/* One file of a definition, as broker_vmdef_open opens it. */
struct broker_vmdef_file {
	const char *what; /* "kernel", "initrd", "disks[N].path" */
	const char *path;
	bool disk, write;
};

/* Open p beneath the tenant's image directory: RESOLVE_BENEATH (no "..", no
 * absolute symlink out), RESOLVE_NO_SYMLINKS (a symlink anywhere on the way
 * is refused, so a tenant that swaps a file for a link in a loop only ever
 * gets its own file or an error), no magic links, no other mount. The
 * administrator's paths are its own: opened by name. Returns the fd or -errno
 * with a message. */
static int broker_vmdef_openat(const struct tenant *t, const struct broker_vmdef_file *f, int flags,
			       char *err, size_t errlen)
{
	struct open_how how = {.flags = (uint64_t)flags,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					  RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	int dfd, fd, r;

	if (!t->image_dir[0]) {
		assert(t->admin);
		fd = open(f->path, flags);
		if (fd < 0) {
			r = -errno;
			snprintf(err, errlen, "%s: %s", f->what, strerror(-r));
			return r;
		}
		return fd;
	}
	/* The directory itself is the operator's (broker.conf). */
	dfd = open(t->image_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: image directory %s: %s", f->what, t->image_dir,
			 strerror(-r));
		return r;
	}
	/* EAGAIN: a rename or mount raced with the lookup; try again, a few times. */
	for (int i = 0; i < 8; i++) {
		fd = (int)syscall(SYS_openat2, dfd, f->path + strlen(t->image_dir), &how,
				  sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	r = fd < 0 ? -errno : fd;
	close(dfd);
	if (r == -ELOOP || r == -EXDEV)
		snprintf(err, errlen,
			 "%s: a symlink, or not on the image directory's file system (links are "
			 "not followed below it)",
			 f->what);
	else if (r == -ENOSYS)
		snprintf(err, errlen, "%s: openat2 is not available (Linux 5.6 or later)", f->what);
	else if (r < 0)
		snprintf(err, errlen, "%s: %s", f->what, strerror(-r));
	return r;
}

static bool broker_vmdef_has_uid(const struct tenant *t, uid_t uid)
{
	for (size_t i = 0; i < t->nuids; i++)
		if (t->uids[i] == uid)
			return true;
	return false;
}

static bool broker_vmdef_has_gid(const struct tenant *t, gid_t gid)
{
	for (size_t i = 0; i < t->ngids; i++)
		if (t->gids[i] == gid)
			return true;
	return false;
}

/* The kind of what fd is (a FIFO would hang whoever reads it, a directory
 * is nothing to boot) and, for a tenant, whether the tenant itself may have
 * it as asked: the broker opened it with CAP_DAC_OVERRIDE, so the mode bits
 * are checked here against the tenant's uids and gids, the way the kernel
 * would check them for one of its processes: the owner's bits when a tenant
 * uid owns it, else the group's when its group is a tenant gid, else the
 * others'. Writing needs the owner's or the group's w bit, never the others':
 * a root-owned image is never written on a tenant's behalf. With an access
 * ACL the group bits are only its mask: no access through them then. */
static int broker_vmdef_access(const struct tenant *t, const struct broker_vmdef_file *f, int fd,
			       char *err, size_t errlen)
{
	const char *who = "others";
	struct stat st;
	mode_t bits;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", f->what, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISREG(st.st_mode) && !(f->disk && S_ISBLK(st.st_mode))) {
		snprintf(err, errlen, "%s: not a regular file%s", f->what,
			 f->disk ? " or block device" : "");
		return -EINVAL;
	}
	if (!t || t->admin)
		return 0;
	if (broker_vmdef_has_uid(t, st.st_uid)) {
		bits = (st.st_mode >> 6) & 7;
		who = "owner";
	} else if (broker_vmdef_has_gid(t, st.st_gid) &&
		   fgetxattr(fd, "system.posix_acl_access", NULL, 0) < 0) {
		bits = (st.st_mode >> 3) & 7;
		who = "group";
	} else {
		bits = st.st_mode & 7;
	}
	if (f->write && (bits & 6) == 6 && strcmp(who, "others") != 0)
		return 0;
	if (!f->write && (bits & 4))
		return 0;
	snprintf(err, errlen,
		 "%s: tenant %s may not %s this file (owner %u, group %u, mode %04o; %s)", f->what,
		 t->name, f->write ? "write" : "read", (unsigned)st.st_uid, (unsigned)st.st_gid,
		 (unsigned)(st.st_mode & 07777),
		 f->write ? "a read-write disk must be the tenant's own: owned by one of its "
			    "uids, or by one of its gids, and writable by it"
			  : "it must be readable by one of the tenant's uids or gids, or by all");
	return -EACCES;
}

/* An fd the client passed (RPC), checked like a file the broker opens: its
 * kind, and the access it was opened with (O_PATH is no access; a read-write
 * disk needs O_RDWR, a read-only one O_RDONLY: the device gets no more than
 * the disk is allowed). A disk is reopened through /proc/self/fd with the same
 * access, so that its lock is the broker's own open file and not one the
 * client still holds (and could unlock, or pass again for a second VM).
 * Returns the broker's fd or -errno with a message. */
static int broker_vmdef_passed(const struct broker_vmdef_file *f, const int *fds, size_t nfds,
			       char *err, size_t errlen)
{
	unsigned n = broker_vmdef_fd_index(f->path);
	char proc[64];
	int fl, fd, r;

	if (n == 0 || n > nfds) {
		snprintf(err, errlen, "%s: %s names fd %u, but the request carries %zu fds",
			 f->what, f->path, n, nfds);
		return -EINVAL;
	}
	fd = fds[n - 1];
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY) {
		snprintf(err, errlen, "%s: the fd passed is not open for reading", f->what);
		return -EINVAL;
	}
	r = broker_vmdef_access(NULL, f, fd, err, errlen);
	if (r < 0)
		return r;
	if (f->disk && (fl & O_ACCMODE) != (f->write ? O_RDWR : O_RDONLY)) {
		snprintf(err, errlen, "%s: %s", f->what,
			 f->write ? "a read-write disk needs an fd open read-write (O_RDWR)"
				  : "a read-only disk needs an fd open read-only (O_RDONLY)");
		return -EINVAL;
	}
	if (!f->disk)
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		fd = open(proc, (fl & O_ACCMODE) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: the fd passed: %s", f->what, strerror(-r));
		return r;
	}
	return fd;
}

/* Open one file of the definition for tenant t (or take the fd the client
 * passed) and check it. Returns the fd or -errno with a message. */
static int broker_vmdef_open(const struct tenant *t, const struct broker_vmdef_file *f,
			     const int *fds, size_t nfds, char *err, size_t errlen)
{
	int fd, r;

	if (broker_vmdef_is_fd(f->path)) {
		if (!fds) {
			snprintf(err, errlen,
				 "%s: %s was an fd passed at create; the broker has restarted "
				 "since: delete the VM and create it again",
				 f->what, f->path);
			return -EINVAL;
		}
		return broker_vmdef_passed(f, fds, nfds, err, errlen);
	}
	/* O_NONBLOCK: opening a FIFO must not hang the broker (refused below). */
	fd = broker_vmdef_openat(t, f,
				 (f->write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
				 err, errlen);
	if (fd < 0)
		return fd;
	r = broker_vmdef_access(t, f, fd, err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static void broker_vmdef_close_files(struct broker_vmdef *d)
{
	if (d->kernel_fd >= 0)
		close(d->kernel_fd);
	if (d->initrd_fd >= 0)
		close(d->initrd_fd);
	d->kernel_fd = d->initrd_fd = -1;
	for (size_t i = 0; i < d->ndisks; i++)
		disk_opt_close_image(&d->disks[i]);
}

/* ": PATH" of a disk's image for a message; a passed fd by the name it has now. */
static void broker_vmdef_name_image(const struct disk_opt *k, char *out, size_t len)
{
	char proc[64], name[PATH_MAX];
	ssize_t n = -1;

	if (broker_vmdef_is_fd(k->path)) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", k->image_fd);
		n = readlink(proc, name, sizeof(name) - 1);
	}
	if (n > 0) {
		name[n] = 0;
		snprintf(out, len, ": %s (%s)", name, k->path);
	} else {
		snprintf(out, len, ": %s", k->path);
	}
}

/* Open every file of d once, for tenant t (fds: what an RPC create passed;
 * NULL: none may be named), and lock the disks' images. On failure nothing
 * is left open. */
static int broker_vmdef_open_files(struct broker_vmdef *d, const struct tenant *t, const int *fds,
				   size_t nfds, char *err, size_t errlen)
{
	struct broker_vmdef_file f = {.what = d->firmware ? "firmware" : "kernel",
				      .path = d->kernel};
	char what[40];
	int r;

	broker_vmdef_close_files(d);
	r = d->kernel_fd = broker_vmdef_open(t, &f, fds, nfds, err, errlen);
	if (r < 0)
		goto fail;
	if (d->initrd[0]) {
		f = (struct broker_vmdef_file){.what = "initrd", .path = d->initrd};
		r = d->initrd_fd = broker_vmdef_open(t, &f, fds, nfds, err, errlen);
		if (r < 0)
			goto fail;
	}
	for (size_t i = 0; i < d->ndisks; i++) {
		struct disk_opt *k = &d->disks[i];

		snprintf(what, sizeof(what), "disks[%zu].path", i);
		f = (struct broker_vmdef_file){
			.what = what, .path = k->path, .disk = true, .write = !k->readonly};
		r = k->image_fd = broker_vmdef_open(t, &f, fds, nfds, err, errlen);
		if (r < 0)
			goto fail;
		r = disk_opt_check_image(k->image_fd, k->readonly, what, err, errlen);
		if (r < 0)
			goto fail;
		r = disk_opt_lock_image(k->image_fd, k->readonly, what, err, errlen);
		if (r == -EBUSY)
			broker_vmdef_name_image(k, err + strlen(err), errlen - strlen(err));
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	broker_vmdef_close_files(d);
	return -EINVAL;
}

/* At boot: the kept files once more (their owner or mode may have changed
 * since create; what the client passed is checked for its kind only). */
static int broker_vmdef_recheck_files(const struct broker_vmdef *d, const struct tenant *t,
				      char *err, size_t errlen)
{
	struct broker_vmdef_file f = {.what = d->firmware ? "firmware" : "kernel",
				      .path = d->kernel};
	char what[40];

	if (broker_vmdef_access(broker_vmdef_is_fd(d->kernel) ? NULL : t, &f, d->kernel_fd, err,
				errlen) < 0)
		return -EINVAL;
	f = (struct broker_vmdef_file){.what = "initrd", .path = d->initrd};
	if (d->initrd_fd >= 0 && broker_vmdef_access(broker_vmdef_is_fd(d->initrd) ? NULL : t, &f,
						     d->initrd_fd, err, errlen) < 0)
		return -EINVAL;
	for (size_t i = 0; i < d->ndisks; i++) {
		snprintf(what, sizeof(what), "disks[%zu].path", i);
		f = (struct broker_vmdef_file){.what = what,
					       .path = d->disks[i].path,
					       .disk = true,
					       .write = !d->disks[i].readonly};
		if (broker_vmdef_access(broker_vmdef_is_fd(f.path) ? NULL : t, &f,
					d->disks[i].image_fd, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

static int broker_vmdef_tap(const struct tenant *t, const char *tap, char *err, size_t errlen);

/* What a VM can boot with: devices in all, one NIC per tap, the tenant's taps. */
static int broker_vmdef_devices(const struct broker_vmdef *d, const struct tenant *t, char *err,
				size_t errlen)
{
	if (d->ndisks + d->nnets > LAUNCHER_MAX_DISKS_NICS) {
		snprintf(err, errlen, "at most %d disks and nets in all", LAUNCHER_MAX_DISKS_NICS);
		return -EINVAL;
	}
	for (size_t i = 0; i < d->nnets; i++) {
		for (size_t k = 0; k < i; k++)
			if (strcmp(d->nets[i].tap, d->nets[k].tap) == 0) {
				snprintf(err, errlen, "nets[].tap: '%s' is given to two NICs",
					 d->nets[i].tap);
				return -EINVAL;
			}
		if (broker_vmdef_tap(t, d->nets[i].tap, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

int broker_vmdef_check_paths(struct broker_vmdef *d, const struct tenant *t, char *err,
			     size_t errlen)
{
	const char *boot = d->firmware ? "firmware" : "kernel";
	char tmp[PATH_MAX];

	if (broker_vmdef_devices(d, t, err, errlen) < 0)
		return -EINVAL;
	/* Lexically again: a state file is only checked that way at load. */
	if (broker_vmdef_path(t, boot, d->kernel, tmp, err, errlen) < 0 ||
	    (d->initrd[0] && broker_vmdef_path(t, "initrd", d->initrd, tmp, err, errlen) < 0))
		return -EINVAL;
	for (size_t i = 0; i < d->ndisks; i++)
		if (broker_vmdef_path(t, "disks[].path", d->disks[i].path, tmp, err, errlen) < 0)
			return -EINVAL;
	if (d->kernel_fd < 0)
		return broker_vmdef_open_files(d, t, NULL, 0, err, errlen);
	return broker_vmdef_recheck_files(d, t, err, errlen);
}

static int broker_vmdef_disk(json_object *o, const struct tenant *t, struct disk_opt *d, char *err,
			     size_t errlen)
{
	char opt[PATH_MAX + 128];
	const char *s;
	size_t n = 0;

	if (json_object_is_type(o, json_type_string)) {
		if (broker_vmdef_string(o, "disks[]", sizeof(opt) - 1, &s, err, errlen) < 0)
			return -EINVAL;
		snprintf(opt, sizeof(opt), "%s", s);
	} else if (json_object_is_type(o, json_type_object)) {
		/* The object form is spelled as the --disk option, then parsed by
		 * the same code as cellvm run's. */
		json_object_object_foreach(o, key, val)
		{
			uint64_t q;

			if (strcmp(key, "path") == 0 || strcmp(key, "serial") == 0 ||
			    strcmp(key, "transport") == 0) {
				if (broker_vmdef_string(val, key, PATH_MAX - 1, &s, err, errlen) <
				    0)
					return -EINVAL;
				if (strchr(s, ',')) {
					snprintf(err, errlen, "disks[].%s: no ',' allowed", key);
					return -EINVAL;
				}
				n += (size_t)snprintf(opt + n, sizeof(opt) - n, "%s%s=%s",
						      n ? "," : "", key, s);
			} else if (strcmp(key, "readonly") == 0 || strcmp(key, "direct") == 0) {
				if (!json_object_is_type(val, json_type_boolean)) {
					snprintf(err, errlen, "disks[].%s: must be a boolean", key);
					return -EINVAL;
				}
				n += (size_t)snprintf(opt + n, sizeof(opt) - n, "%s%s=%s",
						      n ? "," : "", key,
						      json_object_get_boolean(val) ? "on" : "off");
			} else if (strcmp(key, "queues") == 0) {
				if (broker_vmdef_uint(val, "disks[].queues", 1, DISK_MAX_QUEUES, &q,
						      err, errlen) < 0)
					return -EINVAL;
				n += (size_t)snprintf(opt + n, sizeof(opt) - n, "%squeues=%llu",
						      n ? "," : "", (unsigned long long)q);
			} else {
				snprintf(err, errlen, "disks[]: unknown field '%.32s'", key);
				return -EINVAL;
			}
			if (n >= sizeof(opt)) {
				snprintf(err, errlen, "disks[]: too long");
				return -EINVAL;
			}
		}
	} else {
		snprintf(err, errlen, "disks[]: must be a string or an object");
		return -EINVAL;
	}
	if (disk_opt_parse(opt, d, err, errlen) < 0)
		return -EINVAL;
	return broker_vmdef_path(t, "disks[].path", d->path, d->path, err, errlen);
}

/* The tap of a NIC: a tenant may only use the taps its configuration lists,
 * as the broker opens (or creates) them with CAP_NET_ADMIN. */
static int broker_vmdef_tap(const struct tenant *t, const char *tap, char *err, size_t errlen)
{
	if (!t || broker_tenant_tap_allowed(t, tap))
		return 0;
	if (!t->taps[0])
		snprintf(err, errlen, "nets[].tap: tenant %s has no taps in the configuration",
			 t->name);
	else
		snprintf(err, errlen, "nets[].tap: '%s' is not one of tenant %s's taps", tap,
			 t->name);
	return -EINVAL;
}

/* A value of the object form, spelled as the --net option's key=value. */
static int broker_vmdef_net_value(const char *key, json_object *val, char *opt, size_t *n,
				  char *err, size_t errlen)
{
	char what[40];
	const char *s;
	uint64_t v;
	int r = -EINVAL;

	snprintf(what, sizeof(what), "nets[].%s", key);
	if (strcmp(key, "tap") == 0 || strcmp(key, "mac") == 0 || strcmp(key, "transport") == 0 ||
	    (json_object_is_type(val, json_type_string) &&
	     (strcmp(key, "rate") == 0 || strcmp(key, "burst") == 0 || strcmp(key, "pps") == 0 ||
	      strcmp(key, "pps-burst") == 0))) {
		/* Strings; rates may carry a K/M/G/T suffix as in --net. */
		if (broker_vmdef_string(val, what, 64, &s, err, errlen) < 0)
			return -EINVAL;
		if (strchr(s, ',')) {
			snprintf(err, errlen, "%s: no ',' allowed", what);
			return -EINVAL;
		}
		r = snprintf(opt + *n, NET_OPT_MAX_LEN + 1 - *n, "%s%s=%s", *n ? "," : "", key, s);
	} else if (strcmp(key, "queues") == 0 || strcmp(key, "mtu") == 0 ||
		   strcmp(key, "rate") == 0 || strcmp(key, "burst") == 0 ||
		   strcmp(key, "pps") == 0 || strcmp(key, "pps-burst") == 0) {
		/* The ranges are net_opt_parse's, checked there again. */
		if (strcmp(key, "queues") == 0)
			r = broker_vmdef_uint(val, what, 1, NET_OPT_MAX_QUEUES, &v, err, errlen);
		else if (strcmp(key, "mtu") == 0)
			r = broker_vmdef_uint(val, what, NET_OPT_MIN_MTU, NET_OPT_MAX_MTU, &v, err,
					      errlen);
		else
			r = broker_vmdef_uint(val, what, 1, UINT64_MAX, &v, err, errlen);
		if (r < 0)
			return -EINVAL;
		r = snprintf(opt + *n, NET_OPT_MAX_LEN + 1 - *n, "%s%s=%llu", *n ? "," : "", key,
			     (unsigned long long)v);
	} else {
		snprintf(err, errlen,
			 "nets[]: unknown field '%.32s' (tap, mac, queues, mtu, rate, burst, pps, "
			 "pps-burst, transport)",
			 key);
		return -EINVAL;
	}
	if (r < 0 || (size_t)r >= NET_OPT_MAX_LEN + 1 - *n) {
		snprintf(err, errlen, "nets[]: too long");
		return -EINVAL;
	}
	*n += (size_t)r;
	return 0;
}

/* A NIC: the --net string of cellvm run, or an object with its keys, parsed
 * by net_opt_parse (the same rules as --net). */
static int broker_vmdef_net_parse(json_object *o, const struct tenant *t,
				  struct broker_vmdef_net *d, char *err, size_t errlen)
{
	char opt[NET_OPT_MAX_LEN + 1], why[400];
	const char *s;
	size_t n = 0;
	int r;

	memset(d, 0, sizeof(*d));
	if (json_object_is_type(o, json_type_string)) {
		if (broker_vmdef_string(o, "nets[]", NET_OPT_MAX_LEN, &s, err, errlen) < 0)
			return -EINVAL;
		snprintf(opt, sizeof(opt), "%s", s);
	} else if (json_object_is_type(o, json_type_object)) {
		opt[0] = 0;
		json_object_object_foreach(o, key, val)
		{
			if (broker_vmdef_net_value(key, val, opt, &n, err, errlen) < 0)
				return -EINVAL;
		}
	} else {
		snprintf(err, errlen, "nets[]: must be a string or an object");
		return -EINVAL;
	}
	if (net_opt_parse(opt, &d->opt, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "nets[]: %s", why);
		return -EINVAL;
	}
	/* Stored as JSON integers: int64, less the value json-c saturates to. */
	if (d->opt.rate_bytes >= INT64_MAX || d->opt.burst_bytes >= INT64_MAX ||
	    d->opt.rate_packets >= INT64_MAX || d->opt.burst_packets >= INT64_MAX) {
		snprintf(err, errlen, "nets[]: a rate or burst above %lld",
			 (long long)INT64_MAX - 1);
		return -EINVAL;
	}
	if (d->opt.queues > LAUNCHER_MAX_BACKENDS) {
		snprintf(err, errlen, "nets[].queues: at most %d in this build",
			 LAUNCHER_MAX_BACKENDS);
		return -EINVAL;
	}
	/* A stable MAC: picked once, kept in the definition (the guest's
	 * address must not change at each boot). */
	if (!d->opt.mac_given) {
		r = net_opt_random_mac(d->opt.mac);
		if (r < 0) {
			snprintf(err, errlen, "nets[].mac: getrandom: %s", strerror(-r));
			return -EINVAL;
		}
		d->opt.mac_given = true;
	}
	snprintf(d->tap, sizeof(d->tap), "%s", d->opt.tap);
	net_opt_format_mac(d->opt.mac, d->mac, sizeof(d->mac));
	d->queues = d->opt.queues;
	return broker_vmdef_tap(t, d->tap, err, errlen);
}

static int broker_vmdef_array(json_object *a, const char *what, size_t max, char *err,
			      size_t errlen)
{
	if (!json_object_is_type(a, json_type_array)) {
		snprintf(err, errlen, "%s: must be an array", what);
		return -EINVAL;
	}
	if (json_object_array_length(a) > max) {
		snprintf(err, errlen, "%s: at most %zu", what, max);
		return -EINVAL;
	}
	return (int)json_object_array_length(a);
}

static const char *const broker_vmdef_input_kinds[INPUT_OPT_VIRTIO_FNS] = {"keyboard", "mouse",
									   "tablet", "touch"};

/* input_config.devices.KIND: the identity the guest sees. */
static int broker_vmdef_input_id(json_object *o, struct input_opt *in, int k, char *err,
				 size_t errlen)
{
	char what[64];
	const char *s;
	uint64_t v;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "input_config.devices.%s: must be an object",
			 broker_vmdef_input_kinds[k]);
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val)
	{
		snprintf(what, sizeof(what), "input_config.devices.%s.%.16s",
			 broker_vmdef_input_kinds[k], key);
		if (strcmp(key, "name") == 0 || strcmp(key, "serial") == 0) {
			bool name = key[0] == 'n';
			size_t max = name ? INPUT_OPT_NAME_MAX : INPUT_OPT_SERIAL_MAX;

			if (broker_vmdef_string(val, what, max, &s, err, errlen) < 0)
				return -EINVAL;
			for (const char *c = s; *c; c++)
				if (*c < 0x20 || *c == 0x7f) {
					snprintf(err, errlen, "%s: control characters", what);
					return -EINVAL;
				}
			strcpy(name ? in->names[k] : in->serials[k], s);
		} else if (strcmp(key, "vendor") == 0 || strcmp(key, "product") == 0) {
			if (broker_vmdef_uint(val, what, 1, 0xffff, &v, err, errlen) < 0)
				return -EINVAL;
			(key[0] == 'v' ? in->vendor : in->product)[k] = (uint32_t)v;
		} else {
			snprintf(err, errlen, "%s: unknown field", what);
			return -EINVAL;
		}
	}
	return 0;
}

/* The JSON keys of a usb_KIND_config and input_opt_usb_set's names for them. */
static const char *const broker_vmdef_usb_keys[][2] = {
	{"vendor_id", "vendor"},     {"product_id", "product"},	       {"release", "release"},
	{"interval_ms", "interval"}, {"manufacturer", "manufacturer"}, {"product", "name"},
	{"serial", "serial"},
};

/* input_config.usb_KIND_config: the identity USB device k's descriptors
 * carry. Numbers as JSON integers or strings ("0x046d"). */
static int broker_vmdef_input_usb(json_object *o, struct input_opt *in, int k, char *err,
				  size_t errlen)
{
	const char *kind = input_opt_usb_kind_name((uint32_t)k);
	struct input_opt_usb *u = &in->usb_ids[k];
	char what[80], num[24], why[128];

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "input_config.usb_%s_config: must be an object", kind);
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val)
	{
		const char *opt = NULL, *s;
		bool is_str;

		snprintf(what, sizeof(what), "input_config.usb_%s_config.%.16s", kind, key);
		for (size_t i = 0;
		     i < sizeof(broker_vmdef_usb_keys) / sizeof(broker_vmdef_usb_keys[0]); i++)
			if (strcmp(key, broker_vmdef_usb_keys[i][0]) == 0)
				opt = broker_vmdef_usb_keys[i][1];
		if (!opt) {
			snprintf(err, errlen,
				 "%s: unknown field (vendor_id, product_id, release, manufacturer, "
				 "product, serial, interval_ms)",
				 what);
			return -EINVAL;
		}
		is_str = strcmp(opt, "manufacturer") == 0 || strcmp(opt, "name") == 0 ||
			 strcmp(opt, "serial") == 0;
		/* Numbers as integers or strings; strings only as strings. */
		if (!is_str && json_object_is_type(val, json_type_int)) {
			/* Negative or huge: the parser refuses the text. */
			snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(val));
			s = num;
		} else if (!json_object_is_type(val, json_type_string)) {
			snprintf(err, errlen, "%s: must be a string%s", what,
				 is_str ? "" : " or an integer");
			return -EINVAL;
		} else if (broker_vmdef_string(val, what, 255, &s, err, errlen) < 0) {
			return -EINVAL;
		}
		if (input_opt_usb_set(u, opt, s, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", what, why);
			return -EINVAL;
		}
	}
	u->given = true;
	return 0;
}

/* The usb_KIND_config broker_vmdef_input_usb takes back; NULL when all
 * defaults. */
static json_object *broker_vmdef_input_usb_json(const struct input_opt_usb *u)
{
	json_object *o = json_object_new_object();

	if (u->vendor)
		json_object_object_add(o, "vendor_id", json_object_new_int64(u->vendor));
	if (u->product)
		json_object_object_add(o, "product_id", json_object_new_int64(u->product));
	if (u->release)
		json_object_object_add(o, "release", json_object_new_int64(u->release));
	if (u->interval_ms)
		json_object_object_add(o, "interval_ms", json_object_new_int64(u->interval_ms));
	if (u->manufacturer[0])
		json_object_object_add(o, "manufacturer", json_object_new_string(u->manufacturer));
	if (u->product_name[0])
		json_object_object_add(o, "product", json_object_new_string(u->product_name));
	if (u->serial[0])
		json_object_object_add(o, "serial", json_object_new_string(u->serial));
	if (json_object_object_length(o))
		return o;
	json_object_put(o);
	return NULL;
}

static int broker_vmdef_input_backend(json_object *val, const char *what, int *ret, char *err,
				      size_t errlen)
{
	const char *s;

	if (broker_vmdef_string(val, what, 15, &s, err, errlen) < 0)
		return -EINVAL;
	*ret = input_opt_backend(s);
	if (*ret < 0) {
		snprintf(err, errlen, "%s: one of ps2, virtio, usb", what);
		return -EINVAL;
	}
	return 0;
}

/* input_config: {"default_backend" (or "backend"): "ps2"|"virtio"|"usb",
 * "backends": [...] (default: ps2 and virtio, and usb when it is the
 * default or a usb_*_config is given), "devices": {"keyboard":
 * {"name", "serial", "vendor", "product"}, "mouse", "tablet", "touch"},
 * "usb_keyboard_config", "usb_mouse_config", "usb_tablet_config": {...}}.
 * The VM then has an input device (docs/input.md). */
static int broker_vmdef_input(json_object *o, struct broker_vmdef *d, char *err, size_t errlen)
{
	struct input_opt *in = &d->input_opt;
	int dflt = 0, b;

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "input_config: must be an object");
		return -EINVAL;
	}
	input_opt_init(in);
	json_object_object_foreach(o, key, val)
	{
		if (strcmp(key, "backend") == 0 || strcmp(key, "default_backend") == 0) {
			if (dflt) {
				snprintf(err, errlen,
					 "input_config: backend and default_backend "
					 "are the same field");
				return -EINVAL;
			}
			if (broker_vmdef_input_backend(val, "input_config.default_backend", &dflt,
						       err, errlen) < 0)
				return -EINVAL;
		} else if (strcmp(key, "backends") == 0) {
			int n = broker_vmdef_array(val, "input_config.backends", 3, err, errlen);

			if (n <= 0) {
				if (n == 0)
					snprintf(err, errlen, "input_config.backends: name one");
				return -EINVAL;
			}
			for (int i = 0; i < n; i++) {
				bool *on;

				if (broker_vmdef_input_backend(
					    json_object_array_get_idx(val, (size_t)i),
					    "input_config.backends[]", &b, err, errlen) < 0)
					return -EINVAL;
				on = b == CELLVM_INPUT_BACKEND_PS2	? &in->ps2
				     : b == CELLVM_INPUT_BACKEND_VIRTIO ? &in->virtio
									: &in->usb;
				if (*on) {
					snprintf(err, errlen, "input_config.backends: named twice");
					return -EINVAL;
				}
				*on = true;
			}
		} else if (strcmp(key, "devices") == 0) {
			if (!json_object_is_type(val, json_type_object)) {
				snprintf(err, errlen, "input_config.devices: must be an object");
				return -EINVAL;
			}
			json_object_object_foreach(val, kind, id)
			{
				int k = -1;

				for (int i = 0; i < INPUT_OPT_VIRTIO_FNS; i++)
					if (strcmp(kind, broker_vmdef_input_kinds[i]) == 0)
						k = i;
				if (k < 0) {
					snprintf(err, errlen,
						 "input_config.devices: unknown device '%.32s' "
						 "(keyboard, mouse, tablet, touch)",
						 kind);
					return -EINVAL;
				}
				if (broker_vmdef_input_id(id, in, k, err, errlen) < 0)
					return -EINVAL;
			}
		} else if (strncmp(key, "usb_", 4) == 0 && strlen(key) > 11 &&
			   strcmp(key + strlen(key) - 7, "_config") == 0) {
			char kind[16];
			int k;

			snprintf(kind, sizeof(kind), "%.*s", (int)(strlen(key) - 11), key + 4);
			k = input_opt_usb_kind(kind);
			if (k < 0) {
				snprintf(
					err, errlen,
					"input_config: unknown field '%.32s' (usb_keyboard_config, "
					"usb_mouse_config, usb_tablet_config)",
					key);
				return -EINVAL;
			}
			if (broker_vmdef_input_usb(val, in, k, err, errlen) < 0)
				return -EINVAL;
		} else {
			snprintf(err, errlen, "input_config: unknown field '%.32s'", key);
			return -EINVAL;
		}
	}
	if (!in->ps2 && !in->virtio && !in->usb) {
		/* No backends: ps2 and virtio, and usb when asked for by name
		 * (the RPC's VmDefinition carries only input_backend). */
		in->ps2 = in->virtio = true;
		in->usb = dflt == CELLVM_INPUT_BACKEND_USB;
		for (int k = 0; k < INPUT_OPT_USB_FNS; k++)
			in->usb |= in->usb_ids[k].given;
	}
	for (int k = 0; k < INPUT_OPT_USB_FNS; k++)
		if (in->usb_ids[k].given && !in->usb) {
			snprintf(err, errlen, "input_config.usb_%s_config: usb is not in backends",
				 input_opt_usb_kind_name((uint32_t)k));
			return -EINVAL;
		}
	if (!dflt)
		dflt = in->ps2	    ? CELLVM_INPUT_BACKEND_PS2
		       : in->virtio ? CELLVM_INPUT_BACKEND_VIRTIO
				    : CELLVM_INPUT_BACKEND_USB;
	if ((dflt == CELLVM_INPUT_BACKEND_PS2 && !in->ps2) ||
	    (dflt == CELLVM_INPUT_BACKEND_VIRTIO && !in->virtio) ||
	    (dflt == CELLVM_INPUT_BACKEND_USB && !in->usb)) {
		snprintf(err, errlen, "input_config.default_backend: not one of backends");
		return -EINVAL;
	}
	in->default_backend = (uint32_t)dflt;
	d->has_input = true;
	strcpy(d->input, input_opt_backend_name((uint32_t)dflt));
	return 0;
}

/* The input_config broker_vmdef_input takes back. */
static json_object *broker_vmdef_input_json(const struct input_opt *in)
{
	json_object *o = json_object_new_object(), *bs = json_object_new_array(),
		    *devs = json_object_new_object();
	struct input_opt dflt;

	input_opt_init(&dflt);
	json_object_object_add(o, "default_backend",
			       json_object_new_string(input_opt_backend_name(in->default_backend)));
	if (in->ps2)
		json_object_array_add(bs, json_object_new_string("ps2"));
	if (in->virtio)
		json_object_array_add(bs, json_object_new_string("virtio"));
	if (in->usb)
		json_object_array_add(bs, json_object_new_string("usb"));
	json_object_object_add(o, "backends", bs);
	for (int k = 0; k < INPUT_OPT_USB_FNS; k++) {
		json_object *u = broker_vmdef_input_usb_json(&in->usb_ids[k]);
		char key[32];

		snprintf(key, sizeof(key), "usb_%s_config", input_opt_usb_kind_name((uint32_t)k));
		if (u)
			json_object_object_add(o, key, u);
	}
	for (int k = 0; k < INPUT_OPT_VIRTIO_FNS; k++) {
		json_object *id = json_object_new_object();

		if (strcmp(in->names[k], dflt.names[k]) != 0)
			json_object_object_add(id, "name", json_object_new_string(in->names[k]));
		if (in->serials[k][0])
			json_object_object_add(id, "serial",
					       json_object_new_string(in->serials[k]));
		if (in->vendor[k])
			json_object_object_add(id, "vendor", json_object_new_int64(in->vendor[k]));
		if (in->product[k])
			json_object_object_add(id, "product",
					       json_object_new_int64(in->product[k]));
		if (json_object_object_length(id))
			json_object_object_add(devs, broker_vmdef_input_kinds[k], id);
		else
			json_object_put(id);
	}
	if (json_object_object_length(devs))
		json_object_object_add(o, "devices", devs);
	else
		json_object_put(devs);
	return o;
}

/* "gpu": {"scanouts": [{"width": W, "height": H}, ...], "budget": BYTES or
 * "256M", "ring_slots": N}, every field optional (one 1024x768 scanout and
 * the device's defaults); or a string in cellvm run's --gpu syntax
 * ("1024x768,budget=64M"). UNTRUSTED(tenant): checked as --gpu is
 * (gpu_opt_check); the budget bounds what the guest may make the gpu
 * process hold. */
static int broker_vmdef_gpu(json_object *o, struct broker_vmdef *d, char *err, size_t errlen)
{
	struct gpu_opt *g = &d->gpu_opt;
	const char *str;
	char why[200];
	uint64_t v;

	if (json_object_is_type(o, json_type_string)) {
		if (broker_vmdef_string(o, "gpu", 200, &str, err, errlen) < 0)
			return -EINVAL;
		if (gpu_opt_parse(str, g, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "gpu: %s", why);
			return -EINVAL;
		}
		/* The host's own display is the host's: not a tenant's to take. */
		if (g->present_path[0]) {
			snprintf(err, errlen, "gpu: present= is cellvm run's only");
			return -EINVAL;
		}
		d->has_gpu = true;
		return 0;
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "gpu: an object, or a string as cellvm run's --gpu");
		return -EINVAL;
	}
	gpu_opt_init(g);
	json_object_object_foreach(o, key, val)
	{
		if (strcmp(key, "scanouts") == 0) {
			int n = broker_vmdef_array(val, "gpu.scanouts", GPU_OPT_MAX_SCANOUTS, err,
						   errlen);

			if (n <= 0) {
				if (n == 0)
					snprintf(err, errlen, "gpu.scanouts: name one");
				return -EINVAL;
			}
			for (int i = 0; i < n; i++) {
				json_object *so = json_object_array_get_idx(val, (size_t)i), *w, *h;

				if (!json_object_is_type(so, json_type_object) ||
				    json_object_object_length(so) != 2 ||
				    !json_object_object_get_ex(so, "width", &w) ||
				    !json_object_object_get_ex(so, "height", &h)) {
					snprintf(err, errlen,
						 "gpu.scanouts[]: {\"width\": W, \"height\": H}");
					return -EINVAL;
				}
				if (broker_vmdef_uint(w, "gpu.scanouts[].width", GPU_OPT_MIN_MODE,
						      GPU_OPT_MAX_MODE, &v, err, errlen) < 0)
					return -EINVAL;
				g->modes[i][0] = (uint32_t)v;
				if (broker_vmdef_uint(h, "gpu.scanouts[].height", GPU_OPT_MIN_MODE,
						      GPU_OPT_MAX_MODE, &v, err, errlen) < 0)
					return -EINVAL;
				g->modes[i][1] = (uint32_t)v;
			}
			g->nscanouts = (uint32_t)n;
		} else if (strcmp(key, "budget") == 0) {
			const char *s;

			if (json_object_is_type(val, json_type_string)) {
				if (broker_vmdef_string(val, "gpu.budget", 32, &s, err, errlen) < 0)
					return -EINVAL;
				if (parse_size(s, &v) < 0)
					v = 0;
			} else if (broker_vmdef_uint(val, "gpu.budget", 0, UINT64_MAX, &v, err,
						     errlen) < 0) {
				return -EINVAL;
			}
			if (v < GPU_OPT_MIN_BUDGET || v > GPU_OPT_MAX_BUDGET) {
				snprintf(err, errlen, "gpu.budget: a size from 16M to 4G");
				return -EINVAL;
			}
			g->budget = v;
		} else if (strcmp(key, "ring_slots") == 0) {
			if (broker_vmdef_uint(val, "gpu.ring_slots", 2, GPU_OPT_MAX_SLOTS, &v, err,
					      errlen) < 0)
				return -EINVAL;
			g->slots = (uint32_t)v;
		} else {
			snprintf(err, errlen, "gpu: unknown field '%.32s'", key);
			return -EINVAL;
		}
	}
	if (gpu_opt_check(g, err, errlen) < 0)
		return -EINVAL;
	d->has_gpu = true;
	return 0;
}

static json_object *broker_vmdef_gpu_json(const struct gpu_opt *g)
{
	json_object *o = json_object_new_object(), *so = json_object_new_array();

	for (uint32_t i = 0; i < g->nscanouts; i++) {
		json_object *m = json_object_new_object();

		json_object_object_add(m, "width", json_object_new_int64(g->modes[i][0]));
		json_object_object_add(m, "height", json_object_new_int64(g->modes[i][1]));
		json_object_array_add(so, m);
	}
	json_object_object_add(o, "scanouts", so);
	if (g->budget)
		json_object_object_add(o, "budget", json_object_new_int64((int64_t)g->budget));
	if (g->slots)
		json_object_object_add(o, "ring_slots", json_object_new_int64(g->slots));
	return o;
}

/* "snd": {"playback": N, "capture": N, "ring_periods": N, "channels": N,
 * "sink": "ring"|"null"}, every field optional (one stream each way, the
 * ring); or a string in cellvm run's --snd syntax ("playback=2,capture=0").
 * UNTRUSTED(tenant): checked as --snd is (snd_opt_check); a WAV file sink or
 * source names a path on the broker's host, which is not a tenant's to
 * write or read: refused (sound comes and goes through the API). */
static int broker_vmdef_snd(json_object *o, struct broker_vmdef *d, char *err, size_t errlen)
{
	struct snd_opt *so = &d->snd_opt;
	const char *str;
	char why[200];
	uint64_t v;

	snd_opt_init(so);
	if (json_object_is_type(o, json_type_string)) {
		if (broker_vmdef_string(o, "snd", 200, &str, err, errlen) < 0)
			return -EINVAL;
		if (snd_opt_parse(str, so, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "snd: %s", why);
			return -EINVAL;
		}
		if ((so->sinks & SND_OPT_SINK_WAV) || so->source == SND_OPT_SOURCE_WAV) {
			snprintf(err, errlen,
				 "snd: sink=wav: and source=wav: are cellvm run's only (a broker "
				 "VM's sound goes through the API: GET audio, POST audio-input)");
			return -EINVAL;
		}
		d->has_snd = true;
		return 0;
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "snd: an object, or a string as cellvm run's --snd");
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val)
	{
		if (strcmp(key, "playback") == 0 || strcmp(key, "capture") == 0) {
			if (broker_vmdef_uint(val, key[0] == 'p' ? "snd.playback" : "snd.capture",
					      0, SND_OPT_MAX_STREAMS, &v, err, errlen) < 0)
				return -EINVAL;
			*(key[0] == 'p' ? &so->playback : &so->capture) = (uint32_t)v;
		} else if (strcmp(key, "ring_periods") == 0) {
			if (broker_vmdef_uint(val, "snd.ring_periods", SND_OPT_MIN_PERIODS,
					      SND_OPT_MAX_PERIODS, &v, err, errlen) < 0)
				return -EINVAL;
			so->periods = (uint32_t)v;
		} else if (strcmp(key, "channels") == 0) {
			if (broker_vmdef_uint(val, "snd.channels", 1, CELLVM_AUDIO_MAX_CHANNELS, &v,
					      err, errlen) < 0)
				return -EINVAL;
			so->max_channels = (uint32_t)v;
		} else if (strcmp(key, "sink") == 0) {
			if (broker_vmdef_string(val, "snd.sink", 16, &str, err, errlen) < 0)
				return -EINVAL;
			if (strcmp(str, "ring") == 0) {
				so->sinks = SND_OPT_SINK_RING;
			} else if (strcmp(str, "null") == 0) {
				so->sinks = 0;
			} else {
				snprintf(err, errlen,
					 "snd.sink: \"ring\" or \"null\" (a WAV file is cellvm "
					 "run's only)");
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "snd: unknown field '%.32s'", key);
			return -EINVAL;
		}
	}
	if (snd_opt_check(so, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "snd: %s", why);
		return -EINVAL;
	}
	d->has_snd = true;
	return 0;
}

static json_object *broker_vmdef_snd_json(const struct snd_opt *so)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "playback", json_object_new_int64(so->playback));
	json_object_object_add(o, "capture", json_object_new_int64(so->capture));
	if (so->periods)
		json_object_object_add(o, "ring_periods", json_object_new_int64(so->periods));
	if (so->max_channels)
		json_object_object_add(o, "channels", json_object_new_int64(so->max_channels));
	json_object_object_add(
		o, "sink", json_object_new_string(so->sinks & SND_OPT_SINK_RING ? "ring" : "null"));
	return o;
}

static int broker_vmdef_member(const char *key, json_object *val, const struct tenant *t,
			       struct broker_vmdef *d, char *err, size_t errlen)
{
	const char *s;
	uint64_t v;
	int n;

	if (strcmp(key, "name") == 0) {
		if (broker_vmdef_string(val, "name", BROKER_NAME_MAX - 1, &s, err, errlen) < 0)
			return -EINVAL;
		for (const char *c = s; *c; c++)
			if (!isalnum((unsigned char)*c) && !strchr("-_.", *c)) {
				snprintf(err, errlen, "name: letters, digits, '-', '_', '.'");
				return -EINVAL;
			}
		strcpy(d->name, s);
	} else if (strcmp(key, "cpus") == 0) {
		if (broker_vmdef_uint(val, "cpus", 1, BROKER_MAX_CPUS, &v, err, errlen) < 0)
			return -EINVAL;
		d->cpus = (uint32_t)v;
	} else if (strcmp(key, "cpu_weight") == 0) {
		/* UNTRUSTED(tenant): its share against the other VMs, within the
		 * range cgroup v2 takes; no more than a weight, so any value there
		 * is the tenant's to choose. */
		if (broker_vmdef_uint(val, "cpu_weight", 1, 10000, &v, err, errlen) < 0)
			return -EINVAL;
		d->cpu_weight = (uint32_t)v;
	} else if (strcmp(key, "memory") == 0) {
		if (json_object_is_type(val, json_type_string)) {
			if (broker_vmdef_string(val, "memory", 32, &s, err, errlen) < 0 ||
			    parse_size(s, &v) < 0)
				goto bad_memory;
		} else if (broker_vmdef_uint(val, "memory", 0, UINT64_MAX, &v, err, errlen) < 0) {
			goto bad_memory;
		}
		if (v < BROKER_MIN_MEMORY || v > BROKER_MAX_MEMORY || (v & 0xfff))
			goto bad_memory;
		d->memory = v;
	} else if (strcmp(key, "firmware") == 0) {
		/* UNTRUSTED(tenant): a path under the same rules as a kernel's:
		 * what the operator put in the tenant's image_dir, or a file the
		 * client opened itself; never a host file of the broker's. */
		if (broker_vmdef_string(val, key, PATH_MAX - 1, &s, err, errlen) < 0)
			return -EINVAL;
		d->firmware = true;
		return broker_vmdef_path(t, key, s, d->kernel, err, errlen);
	} else if (strcmp(key, "acpi") == 0) {
		if (!json_object_is_type(val, json_type_boolean)) {
			snprintf(err, errlen, "acpi: true or false");
			return -EINVAL;
		}
		d->no_acpi = !json_object_get_boolean(val);
	} else if (strcmp(key, "kernel") == 0 || strcmp(key, "initrd") == 0) {
		if (broker_vmdef_string(val, key, PATH_MAX - 1, &s, err, errlen) < 0)
			return -EINVAL;
		return broker_vmdef_path(t, key, s, key[0] == 'k' ? d->kernel : d->initrd, err,
					 errlen);
	} else if (strcmp(key, "cmdline") == 0) {
		if (broker_vmdef_string(val, "cmdline", BROKER_MAX_CMDLINE, &s, err, errlen) < 0)
			return -EINVAL;
		strcpy(d->cmdline, s);
	} else if (strcmp(key, "disks") == 0) {
		n = broker_vmdef_array(val, "disks", DISK_MAX, err, errlen);
		for (int i = 0; i < n; i++)
			if (broker_vmdef_disk(json_object_array_get_idx(val, (size_t)i), t,
					      &d->disks[d->ndisks++], err, errlen) < 0)
				return -EINVAL;
		return n < 0 ? n : 0;
	} else if (strcmp(key, "nets") == 0) {
		n = broker_vmdef_array(val, "nets", BROKER_NET_MAX, err, errlen);
		for (int i = 0; i < n; i++)
			if (broker_vmdef_net_parse(json_object_array_get_idx(val, (size_t)i), t,
						   &d->nets[d->nnets++], err, errlen) < 0)
				return -EINVAL;
		return n < 0 ? n : 0;
	} else if (strcmp(key, "input_config") == 0) {
		return broker_vmdef_input(val, d, err, errlen);
	} else if (strcmp(key, "gpu") == 0) {
		return broker_vmdef_gpu(val, d, err, errlen);
	} else if (strcmp(key, "snd") == 0) {
		return broker_vmdef_snd(val, d, err, errlen);
	} else {
		snprintf(err, errlen, "unknown field '%.32s'", key);
		return -EINVAL;
	}
	return 0;
bad_memory:
	snprintf(err, errlen, "memory: a size from 16M to 256G in whole 4K pages");
	return -EINVAL;
}

size_t broker_vmdef_ndevs(const struct broker_vmdef *d)
{
	return d->ndisks + d->nnets + d->has_gpu + d->has_snd + d->has_input;
}

enum launcher_dev_kind broker_vmdef_dev_kind(const struct broker_vmdef *d, size_t i)
{
	if (i < d->ndisks)
		return LAUNCHER_DEV_BLK;
	if (i < d->ndisks + d->nnets)
		return LAUNCHER_DEV_NET;
	if (d->has_gpu && i == d->ndisks + d->nnets)
		return LAUNCHER_DEV_GPU;
	if (d->has_snd && i == d->ndisks + d->nnets + d->has_gpu)
		return LAUNCHER_DEV_SND;
	return LAUNCHER_DEV_INPUT;
}

int broker_vmdef_from_json_fds(json_object *o, const struct tenant *t, const int *fds, size_t nfds,
			       struct broker_vmdef *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	input_opt_init(&d->input_opt);
	gpu_opt_init(&d->gpu_opt);
	snd_opt_init(&d->snd_opt);
	d->kernel_fd = d->initrd_fd = -1;
	for (size_t i = 0; i < DISK_MAX; i++)
		d->disks[i].image_fd = d->disks[i].fd = -1;
	d->cpus = 1;
	d->memory = DEF_DEFAULT_MEMORY;
	strcpy(d->cmdline, "console=ttyS0");
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "the body must be a JSON object");
		return -EINVAL;
	}
	json_object_object_foreach(o, key, val)
	{
		if (broker_vmdef_member(key, val, t, d, err, errlen) < 0) {
			broker_vmdef_free(d);
			return -EINVAL;
		}
	}
	/* A firmware boots from a disk: no kernel, initrd or command line. */
	if (d->firmware && (json_object_object_get_ex(o, "kernel", NULL) ||
			    json_object_object_get_ex(o, "initrd", NULL) ||
			    json_object_object_get_ex(o, "cmdline", NULL))) {
		snprintf(err, errlen,
			 "firmware: not with kernel, initrd or cmdline (it boots from a disk)");
		broker_vmdef_free(d);
		return -EINVAL;
	}
	if (!d->kernel[0]) {
		snprintf(err, errlen, "kernel (or firmware) is required");
		broker_vmdef_free(d);
		return -EINVAL;
	}
	/* A state file is taken as written (its files are opened at boot). */
	if (t && broker_vmdef_devices(d, t, err, errlen) < 0) {
		broker_vmdef_free(d);
		return -EINVAL;
	}
	/* From a client: open the files now, once; the VM keeps them. */
	if (t &&
	    broker_vmdef_open_files(d, t, fds ? fds : (const int[]){-1}, nfds, err, errlen) < 0) {
		broker_vmdef_free(d);
		return -EINVAL;
	}
	return 0;
}

int broker_vmdef_from_json(json_object *o, const struct tenant *t, struct broker_vmdef *d,
			   char *err, size_t errlen)
{
	return broker_vmdef_from_json_fds(o, t, NULL, 0, d, err, errlen);
}

/* The object form of a NIC, every key it was given (and its MAC). */
static json_object *broker_vmdef_net_json(const struct net_opt *n)
{
	json_object *o = json_object_new_object();
	char mac[18];

	net_opt_format_mac(n->mac, mac, sizeof(mac));
	json_object_object_add(o, "tap", json_object_new_string(n->tap));
	json_object_object_add(o, "mac", json_object_new_string(mac));
	json_object_object_add(o, "queues", json_object_new_int64(n->queues));
	if (n->mtu)
		json_object_object_add(o, "mtu", json_object_new_int64(n->mtu));
	/* broker_vmdef_net_parse keeps the counts below INT64_MAX. */
	if (n->rate_bytes)
		json_object_object_add(o, "rate", json_object_new_int64((int64_t)n->rate_bytes));
	if (n->burst_bytes)
		json_object_object_add(o, "burst", json_object_new_int64((int64_t)n->burst_bytes));
	if (n->rate_packets)
		json_object_object_add(o, "pps", json_object_new_int64((int64_t)n->rate_packets));
	if (n->burst_packets)
		json_object_object_add(o, "pps-burst",
				       json_object_new_int64((int64_t)n->burst_packets));
	if (n->transport)
		json_object_object_add(o, "transport", json_object_new_string(n->transport));
	return o;
}

json_object *broker_vmdef_to_json(const struct broker_vmdef *d)
{
	json_object *o = json_object_new_object(), *disks = json_object_new_array();
	json_object *nets = json_object_new_array();

	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "cpus", json_object_new_int64(d->cpus));
	json_object_object_add(o, "memory", json_object_new_int64((int64_t)d->memory));
	if (d->firmware) {
		json_object_object_add(o, "firmware", json_object_new_string(d->kernel));
	} else {
		json_object_object_add(o, "kernel", json_object_new_string(d->kernel));
		if (d->initrd[0])
			json_object_object_add(o, "initrd", json_object_new_string(d->initrd));
		json_object_object_add(o, "cmdline", json_object_new_string(d->cmdline));
	}
	if (d->no_acpi)
		json_object_object_add(o, "acpi", json_object_new_boolean(false));
	if (d->cpu_weight)
		json_object_object_add(o, "cpu_weight", json_object_new_int64(d->cpu_weight));
	for (size_t i = 0; i < d->ndisks; i++) {
		json_object *k = json_object_new_object();
		json_object_object_add(k, "path", json_object_new_string(d->disks[i].path));
		json_object_object_add(k, "readonly",
				       json_object_new_boolean(d->disks[i].readonly));
		json_object_object_add(k, "direct", json_object_new_boolean(d->disks[i].direct));
		if (d->disks[i].serial[0])
			json_object_object_add(k, "serial",
					       json_object_new_string(d->disks[i].serial));
		json_object_object_add(k, "queues", json_object_new_int64(d->disks[i].queues));
		if (d->disks[i].transport)
			json_object_object_add(k, "transport",
					       json_object_new_string(d->disks[i].transport));
		json_object_array_add(disks, k);
	}
	json_object_object_add(o, "disks", disks);
	for (size_t i = 0; i < d->nnets; i++)
		json_object_array_add(nets, broker_vmdef_net_json(&d->nets[i].opt));
	json_object_object_add(o, "nets", nets);
	if (d->has_input)
		json_object_object_add(o, "input_config", broker_vmdef_input_json(&d->input_opt));
	if (d->has_gpu)
		json_object_object_add(o, "gpu", broker_vmdef_gpu_json(&d->gpu_opt));
	if (d->has_snd)
		json_object_object_add(o, "snd", broker_vmdef_snd_json(&d->snd_opt));
	return o;
}

void broker_vmdef_free(struct broker_vmdef *d)
{
	broker_vmdef_close_files(d);
}
