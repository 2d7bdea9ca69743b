/* Unit tests for broker/broker_tenant.c: the tenant configuration file (a
 * typo must be an error at start, never a silent default) and the mapping of
 * peer credentials to tenants; and for the files a tenant's definition names
 * (broker/broker_vmdef.c): opened once beneath the image directory, never
 * through a symlink (a swapper thread races every create), with the tenant's
 * own access only, and locked. No KVM, no broker process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"

static char conf_path[] = "/tmp/test_broker_tenant.XXXXXX";

static int load(struct tenants *ts, const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(conf_path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return broker_tenant_config_load(ts, conf_path, err, errlen);
}

static void test_missing_file_is_root_only(void **state)
{
	struct tenants ts;
	char err[256];

	assert_int_equal(
		broker_tenant_config_load(&ts, "/nonexistent/broker.conf", err, sizeof(err)), 0);
	assert_int_equal(ts.n, 1);
	assert_true(broker_tenant_for_peer(&ts, 0, 0, NULL, 0)->admin);
	assert_null(broker_tenant_for_peer(&ts, 1000, 1000, NULL, 0));
}

static void test_valid(void **state)
{
	struct tenants ts;
	char err[256] = "";
	struct tenant *a, *b;
	gid_t groups[] = {5000, 2001};

	assert_int_equal(load(&ts,
			      "# comment\n\n[tenant alice]\n uid = 1001 \nmax_vms=4\nmax_cpus = 8\n"
			      "max_memory = 8G\nimage_dir = /srv/alice\n"
			      "[tenant bob]\ngid = 2001\nuid = 1002\n",
			      err, sizeof(err)),
			 0);
	a = broker_tenant_by_name(&ts, "alice");
	b = broker_tenant_by_name(&ts, "bob");
	assert_non_null(a);
	assert_non_null(b);
	assert_false(a->admin);
	assert_int_equal(a->quota.max_vms, 4);
	assert_int_equal(a->quota.max_cpus, 8);
	assert_true(a->quota.max_memory == (8ULL << 30));
	assert_string_equal(a->image_dir, "/srv/alice/");
	/* defaults for what is not given */
	assert_int_equal(b->quota.max_vms, 16);
	assert_string_equal(b->image_dir, "");
	/* uid entries win over gid entries; gids match supplementary groups */
	assert_ptr_equal(broker_tenant_for_peer(&ts, 1001, 2001, NULL, 0), a);
	assert_ptr_equal(broker_tenant_for_peer(&ts, 1500, 2001, NULL, 0), b);
	assert_ptr_equal(broker_tenant_for_peer(&ts, 1500, 1500, groups, 2), b);
	assert_null(broker_tenant_for_peer(&ts, 1500, 1500, groups, 1));
	assert_true(broker_tenant_for_peer(&ts, 0, 2001, NULL, 0)->admin);
}

static void test_errors(void **state)
{
	static const char *const bad[] = {
		"uid = 5\n",				 /* key before any section */
		"[tenant a]\nbogus = 1\n",		 /* unknown key */
		"[tenant a]\nmax_vms = many\n",		 /* bad number */
		"[tenant a]\nmax_vms = 100000\n",	 /* over the registry size */
		"[tenant a]\nmax_memory = 12Q\n",	 /* bad size */
		"[tenant a]\nuid = -1\n",		 /* negative id */
		"[tenant a]\nuid = 4294967295\n",	 /* (uid_t)-1 */
		"[tenant a]\nimage_dir = srv/a\n",	 /* relative */
		"[tenant a]\nimage_dir = /srv/../etc\n", /* .. */
		"[tenant a]\n[tenant a]\n",		 /* repeated */
		"[tenant root]\n",			 /* the administrator's name */
		"[tenant a b]\n",			 /* bad name */
		"[tenant ]\n",				 /* empty name */
		"[tenant a]\njust words\n",		 /* not key = value */
		"[tenant a\n",				 /* unclosed section */
		"[tenant a]\ntaps = *\n",		 /* every tap */
		"[tenant a]\ntaps = a*b\n",		 /* '*' inside */
		"[tenant a]\ntaps = tap%d\n",		 /* not an interface name */
		"[tenant a]\ntaps = 0123456789abcdef\n", /* IFNAMSIZ */
	};
	struct tenants ts;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (load(&ts, bad[i], err, sizeof(err)) >= 0)
			fail_msg("accepted: %s", bad[i]);
		if (!strstr(err, ":"))
			fail_msg("no line number in '%s' for: %s", err, bad[i]);
	}
}

/* The broker's boot keys (broker_host_config.c): defaults, values, bounds. */
static void test_boot_concurrency(void **state)
{
	static const char *const bad[] = {
		"boot_concurrency = 0\n",	       /* no boot at all */
		"boot_concurrency = 65\n",	       /* over BROKER_BOOT_CONCURRENCY_MAX */
		"boot_concurrency = many\n",	       /* not a number */
		"boot_concurrency_per_tenant = 65\n",  /* over the bound */
		"boot_concurrency_per_tenant = -1\n",  /* negative */
		"process_ready_timeout_ms = 999\n",    /* under LAUNCHER_READY_TIMEOUT_MIN */
		"process_ready_timeout_ms = 600001\n", /* over LAUNCHER_READY_TIMEOUT_MAX */
		"process_ready_timeout_ms = 10s\n",    /* milliseconds, a bare number */
	};
	struct tenants ts;
	char err[256] = "";

	assert_int_equal(load(&ts, "", err, sizeof(err)), 0);
	assert_int_equal(ts.host.boot_concurrency, 4);
	assert_int_equal(ts.host.boot_concurrency_per_tenant, 0); /* boot_concurrency - 1 */
	assert_int_equal(ts.host.ready_timeout_ms, 10000);
	assert_int_equal(load(&ts,
			      "boot_concurrency = 8\nboot_concurrency_per_tenant = 2\n"
			      "process_ready_timeout_ms = 120000\n",
			      err, sizeof(err)),
			 0);
	assert_int_equal(ts.host.boot_concurrency, 8);
	assert_int_equal(ts.host.boot_concurrency_per_tenant, 2);
	assert_int_equal(ts.host.ready_timeout_ms, 120000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (load(&ts, bad[i], err, sizeof(err)) >= 0)
			fail_msg("accepted: %s", bad[i]);
}

/* taps: names and prefixes; the administrator any; tenants never share one. */
static void test_taps(void **state)
{
	static const char *const overlap[] = {
		"[tenant a]\ntaps = x*\n[tenant b]\ntaps = xy0\n",
		"[tenant a]\ntaps = q0 q1\n[tenant b]\ntaps = q2,q1\n",
		"[tenant a]\ntaps = ab*\n[tenant b]\ntaps = a*\n",
		"[tenant a]\ntaps = a*\n[tenant b]\ntaps = a*\n",
	};
	struct tenants ts;
	struct tenant *a, *b;
	char err[256] = "";

	assert_int_equal(load(&ts,
			      "[tenant a]\ntaps = ta-*  a0,\tfoo.1\n[tenant b]\ntaps = tb0\n"
			      "[tenant c]\nuid = 5\n",
			      err, sizeof(err)),
			 0);
	a = broker_tenant_by_name(&ts, "a");
	b = broker_tenant_by_name(&ts, "b");
	assert_true(broker_tenant_tap_allowed(a, "ta-0"));
	assert_true(broker_tenant_tap_allowed(a, "ta-"));
	assert_true(broker_tenant_tap_allowed(a, "a0"));
	assert_true(broker_tenant_tap_allowed(a, "foo.1"));
	assert_false(broker_tenant_tap_allowed(a, "ta"));
	assert_false(broker_tenant_tap_allowed(a, "a01"));
	assert_false(broker_tenant_tap_allowed(a, "a"));
	assert_false(broker_tenant_tap_allowed(a, "tb0"));
	assert_false(broker_tenant_tap_allowed(a, ""));
	assert_true(broker_tenant_tap_allowed(b, "tb0"));
	assert_false(broker_tenant_tap_allowed(b, "tb00"));
	assert_false(broker_tenant_tap_allowed(broker_tenant_by_name(&ts, "c"), "tb0"));
	assert_true(broker_tenant_tap_allowed(&ts.t[ts.admin], "anything"));
	for (size_t i = 0; i < sizeof(overlap) / sizeof(overlap[0]); i++) {
		err[0] = 0;
		if (load(&ts, overlap[i], err, sizeof(err)) >= 0)
			fail_msg("accepted: %s", overlap[i]);
		if (!strstr(err, "overlap"))
			fail_msg("'%s' for: %s", err, overlap[i]);
	}
	/* Prefixes that do not meet. */
	assert_int_equal(
		load(&ts, "[tenant a]\ntaps = ab*\n[tenant b]\ntaps = ac* a\n", err, sizeof(err)),
		0);
}

static void test_too_many_tenants(void **state)
{
	char text[8192] = "";
	struct tenants ts;
	char err[256];

	for (int i = 0; i < BROKER_TENANT_MAX; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "[tenant t%d]\n", i);
	assert_true(load(&ts, text, err, sizeof(err)) < 0);
}

/* ---- the files of a definition (broker_vmdef.c) ---- */

static char scratch[] = "/tmp/test_broker_files.XXXXXX";

/* A file of len bytes of c at scratch/name, owner uid, mode. */
static void mkfile(const char *name, char c, uid_t uid, gid_t gid, mode_t mode)
{
	char path[256], buf[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	memset(buf, c, sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(fchown(fd, uid, gid), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void mkdir_in(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

/* A tenant with scratch/dir as its image_dir, uid 1001 and gid 2001. */
static struct tenant file_tenant(const char *dir)
{
	struct tenant t = {.name = "alice", .uids = {1001}, .nuids = 1, .gids = {2001}, .ngids = 1};

	snprintf(t.image_dir, sizeof(t.image_dir), "%s/%s/", scratch, dir);
	return t;
}

/* Parse {"kernel": scratch/kernel, "disks": [disk...]} for t. */
static int def_parse(const struct tenant *t, const char *kernel, const char *disk, bool ro,
		     struct broker_vmdef *d, char *err, size_t errlen)
{
	json_object *o = json_object_new_object();
	char path[256];
	int r;

	snprintf(path, sizeof(path), "%s/%s", scratch, kernel);
	json_object_object_add(o, "kernel", json_object_new_string(path));
	if (disk) {
		json_object *a = json_object_new_array(), *k = json_object_new_object();
		snprintf(path, sizeof(path), "%s/%s", scratch, disk);
		json_object_object_add(k, "path", json_object_new_string(path));
		json_object_object_add(k, "readonly", json_object_new_boolean(ro));
		json_object_array_add(a, k);
		json_object_object_add(o, "disks", a);
	}
	r = broker_vmdef_from_json(o, t, d, err, errlen);
	json_object_put(o);
	return r;
}

static char fd_byte(int fd)
{
	char c = 0;

	assert_int_equal(pread(fd, &c, 1, 0), 1);
	return c;
}

/* /srv/a never admits /srv/ab: the image directory ends at a '/'. */
static void test_dir_boundary(void **state)
{
	struct tenant t = file_tenant("a");
	struct broker_vmdef d;
	char err[512] = "";

	mkdir_in("a");
	mkdir_in("ab");
	mkfile("a/k", 'K', 0, 0, 0644);
	mkfile("ab/k", 'X', 0, 0, 0644);
	assert_int_equal(def_parse(&t, "a/k", NULL, false, &d, err, sizeof(err)), 0);
	assert_int_equal(fd_byte(d.kernel_fd), 'K');
	broker_vmdef_free(&d);
	assert_int_equal(def_parse(&t, "ab/k", NULL, false, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not below this tenant's image directory"));
	/* The directory itself is no file. */
	assert_int_equal(def_parse(&t, "a/", NULL, false, &d, err, sizeof(err)), -EINVAL);
}

struct swapper {
	char link[256], inside[256], secret[256], tmp[256];
	atomic_bool stop;
	atomic_ulong flips;
};

/* Flip image_dir/x between a hard link of the tenant's own file and a
 * symlink to a secret outside, as fast as it goes (each a rename: x always
 * exists). */
static void *swapper_run(void *arg)
{
	struct swapper *s = arg;

	while (!atomic_load(&s->stop)) {
		unlink(s->tmp);
		if (symlink(s->secret, s->tmp) == 0)
			rename(s->tmp, s->link);
		unlink(s->tmp);
		if (link(s->inside, s->tmp) == 0)
			rename(s->tmp, s->link);
		atomic_fetch_add(&s->flips, 1);
	}
	return NULL;
}

/* The attack: a tenant swaps its kernel and disk between its own file and a
 * symlink to a file outside while creates go on. Each create either refuses
 * or holds the inside file; the secret's bytes are never behind an fd. */
static void test_symlink_race(void **state)
{
	struct tenant t = file_tenant("race");
	/* static: a failed assertion leaves the test while the thread runs */
	static struct swapper s;
	struct broker_vmdef d;
	struct stat in;
	unsigned long ok = 0, refused = 0;
	char err[512];
	pthread_t th;

	mkdir_in("race");
	mkdir_in("outside");
	/* The secret is even the tenant's own: only the symlink rule stops it. */
	mkfile("outside/secret", 'S', 1001, 2001, 0644);
	mkfile("race/inside", 'I', 1001, 2001, 0644);
	snprintf(s.link, sizeof(s.link), "%s/race/x", scratch);
	snprintf(s.tmp, sizeof(s.tmp), "%s/race/.x", scratch);
	snprintf(s.inside, sizeof(s.inside), "%s/race/inside", scratch);
	snprintf(s.secret, sizeof(s.secret), "%s/outside/secret", scratch);
	assert_int_equal(stat(s.inside, &in), 0);
	assert_int_equal(link(s.inside, s.link), 0);
	assert_int_equal(pthread_create(&th, NULL, swapper_run, &s), 0);
	/* Until both outcomes were seen (the race is real), bounded. */
	for (unsigned long i = 0; i < 200000 && (i < 2000 || !ok || !refused); i++) {
		int r = def_parse(&t, "race/x", "race/x", i & 1, &d, err, sizeof(err));
		if (r < 0) {
			refused++;
			continue;
		}
		ok++;
		{
			struct stat k, g;
			assert_int_equal(fstat(d.kernel_fd, &k), 0);
			assert_int_equal(fstat(d.disks[0].image_fd, &g), 0);
			if (k.st_ino != in.st_ino || g.st_ino != in.st_ino ||
			    fd_byte(d.kernel_fd) != 'I' || fd_byte(d.disks[0].image_fd) != 'I')
				fail_msg("create %lu got a file outside the image directory", i);
		}
		broker_vmdef_free(&d);
	}
	atomic_store(&s.stop, true);
	pthread_join(th, NULL);
	print_message("symlink race: %lu flips, %lu creates held the inside file, %lu refused\n",
		      (unsigned long)atomic_load(&s.flips), ok, refused);
	if (!refused)
		fail_msg("the swapper never caught a create: the race did not happen");
}

/* Read-write only what the tenant owns (or its group may write); read-only
 * what it may read. The broker opened it as root all the same. */
static void test_access(void **state)
{
	struct tenant t = file_tenant("acc");
	struct broker_vmdef d;
	char err[512] = "";

	mkdir_in("acc");
	mkfile("acc/k", 'K', 0, 0, 0644);
	mkfile("acc/base", 'B', 0, 0, 0444);	   /* root's read-only base image */
	mkfile("acc/private", 'P', 0, 0, 0600);	   /* root's, unreadable to others */
	mkfile("acc/mine", 'M', 1001, 0, 0644);	   /* the tenant's own */
	mkfile("acc/mine-ro", 'm', 1001, 0, 0444); /* its own, not writable */
	mkfile("acc/group", 'G', 0, 2001, 0660);   /* its group's, group-writable */
	mkfile("acc/other", 'O', 1500, 0, 0666);   /* someone else's, world-writable */
	assert_int_equal(def_parse(&t, "acc/k", "acc/base", false, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "tenant alice may not write this file"));
	assert_non_null(strstr(err, "owner 0"));
	assert_int_equal(def_parse(&t, "acc/k", "acc/base", true, &d, err, sizeof(err)), 0);
	assert_int_equal(fd_byte(d.disks[0].image_fd), 'B');
	broker_vmdef_free(&d);
	assert_int_equal(def_parse(&t, "acc/k", "acc/private", true, &d, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "may not read"));
	assert_int_equal(def_parse(&t, "acc/private", NULL, false, &d, err, sizeof(err)), -EINVAL);
	assert_int_equal(def_parse(&t, "acc/k", "acc/mine", false, &d, err, sizeof(err)), 0);
	broker_vmdef_free(&d);
	assert_int_equal(def_parse(&t, "acc/k", "acc/mine-ro", false, &d, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(def_parse(&t, "acc/k", "acc/group", false, &d, err, sizeof(err)), 0);
	broker_vmdef_free(&d);
	assert_int_equal(def_parse(&t, "acc/k", "acc/other", false, &d, err, sizeof(err)), -EINVAL);
	assert_int_equal(def_parse(&t, "acc/k", "acc/other", true, &d, err, sizeof(err)), 0);
	broker_vmdef_free(&d);
	/* A FIFO is refused, without hanging the opener. */
	{
		char path[256];
		snprintf(path, sizeof(path), "%s/acc/fifo", scratch);
		assert_int_equal(mkfifo(path, 0666), 0);
		assert_int_equal(def_parse(&t, "acc/fifo", NULL, false, &d, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "not a regular file"));
	}
}

/* One image read-write in two VMs, or read-write and read-only, is refused
 * with the image named; read-only twice is fine; the lock goes with the
 * definition. */
static void test_locks(void **state)
{
	struct tenant t = file_tenant("lk");
	struct broker_vmdef a, b;
	char err[512] = "";

	mkdir_in("lk");
	mkfile("lk/k", 'K', 0, 0, 0644);
	mkfile("lk/img", 'D', 1001, 0, 0644);
	assert_int_equal(def_parse(&t, "lk/k", "lk/img", false, &a, err, sizeof(err)), 0);
	assert_int_equal(def_parse(&t, "lk/k", "lk/img", false, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "in use by another VM"));
	assert_non_null(strstr(err, "lk/img"));
	assert_int_equal(def_parse(&t, "lk/k", "lk/img", true, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "in use by another VM"));
	broker_vmdef_free(&a);
	assert_int_equal(def_parse(&t, "lk/k", "lk/img", true, &a, err, sizeof(err)), 0);
	assert_int_equal(def_parse(&t, "lk/k", "lk/img", true, &b, err, sizeof(err)), 0);
	broker_vmdef_free(&b);
	assert_int_equal(def_parse(&t, "lk/k", "lk/img", false, &b, err, sizeof(err)), -EINVAL);
	broker_vmdef_free(&a);
	assert_int_equal(def_parse(&t, "lk/k", "lk/img", false, &b, err, sizeof(err)), 0);
	broker_vmdef_free(&b);
}

/* Overlapping image directories are refused at load, naming both tenants. */
static void test_dirs_overlap(void **state)
{
	static const char *const overlap[] = {
		"[tenant a]\nimage_dir = /srv/a\n[tenant b]\nimage_dir = /srv/a/\n",
		"[tenant a]\nimage_dir = /srv/a\n[tenant b]\nimage_dir = /srv/a/b\n",
		"[tenant a]\nimage_dir = /srv//a/b\n[tenant b]\nimage_dir = /srv/a\n",
		"[tenant a]\nimage_dir = /\n[tenant b]\nimage_dir = /srv/b\n",
	};
	struct tenants ts;
	char err[256] = "", text[512];

	for (size_t i = 0; i < sizeof(overlap) / sizeof(overlap[0]); i++) {
		err[0] = 0;
		if (load(&ts, overlap[i], err, sizeof(err)) >= 0)
			fail_msg("accepted: %s", overlap[i]);
		if (!strstr(err, "tenants a and b") || !strstr(err, "overlap"))
			fail_msg("'%s' for: %s", err, overlap[i]);
	}
	/* Neighbours, not nested. */
	assert_int_equal(load(&ts,
			      "[tenant a]\nimage_dir = /srv/a\n[tenant b]\nimage_dir = /srv/ab\n",
			      err, sizeof(err)),
			 0);
	assert_string_equal(broker_tenant_by_name(&ts, "a")->image_dir, "/srv/a/");
	/* Apart as written, nested as they resolve (a symlink). */
	mkdir_in("real");
	mkdir_in("real/b");
	snprintf(text, sizeof(text), "%s/alias", scratch);
	assert_int_equal(symlink("real", text), 0);
	snprintf(text, sizeof(text),
		 "[tenant a]\nimage_dir = %s/real\n[tenant b]\nimage_dir = %s/alias/b\n", scratch,
		 scratch);
	assert_true(load(&ts, text, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "tenants a and b"));
	/* The tenant's uid and gid lines are kept for the access checks. */
	assert_int_equal(load(&ts, "[tenant a]\nuid = 7\nuid = 8\ngid = 9\n", err, sizeof(err)), 0);
	assert_int_equal(broker_tenant_by_name(&ts, "a")->nuids, 2);
	assert_int_equal(broker_tenant_by_name(&ts, "a")->gids[0], 9);
}

/* An RPC create's fds ("fd:N"): their kind and access mode are checked, and a
 * disk's lock is the broker's own open file (passing the same fd twice does
 * not attach one image read-write twice). */
static void test_passed_fds(void **state)
{
	struct tenant t = file_tenant("fds");
	struct broker_vmdef a, b;
	char err[512] = "", path[256];
	int fds[4];
	json_object *o;

	mkdir_in("fds");
	mkfile("fds/k", 'K', 0, 0, 0644);
	mkfile("fds/img", 'D', 0, 0, 0600);
	snprintf(path, sizeof(path), "%s/fds/k", scratch);
	fds[0] = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/fds/img", scratch);
	fds[1] = open(path, O_RDWR | O_CLOEXEC);
	fds[2] = open(path, O_RDONLY | O_CLOEXEC);
	fds[3] = open(path, O_PATH | O_CLOEXEC);
	o = json_tokener_parse("{\"kernel\":\"fd:1\",\"disks\":[\"path=fd:2\"]}");
	assert_int_equal(broker_vmdef_from_json_fds(o, &t, fds, 4, &a, err, sizeof(err)), 0);
	assert_int_equal(fd_byte(a.kernel_fd), 'K');
	assert_int_equal(fd_byte(a.disks[0].image_fd), 'D');
	/* The same fd again for a second VM: the broker's own lock refuses it. */
	assert_int_equal(broker_vmdef_from_json_fds(o, &t, fds, 4, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "in use by another VM"));
	broker_vmdef_free(&a);
	/* REST (no fds) cannot name one. */
	assert_int_equal(broker_vmdef_from_json(o, &t, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "carries 0 fds"));
	json_object_put(o);
	/* A read-write disk on a read-only fd; an O_PATH fd; an fd out of range. */
	o = json_tokener_parse("{\"kernel\":\"fd:1\",\"disks\":[\"path=fd:3\"]}");
	assert_int_equal(broker_vmdef_from_json_fds(o, &t, fds, 4, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "O_RDWR"));
	json_object_put(o);
	o = json_tokener_parse("{\"kernel\":\"fd:4\"}");
	assert_int_equal(broker_vmdef_from_json_fds(o, &t, fds, 4, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not open for reading"));
	json_object_put(o);
	o = json_tokener_parse("{\"kernel\":\"fd:5\"}");
	assert_int_equal(broker_vmdef_from_json_fds(o, &t, fds, 4, &a, err, sizeof(err)), -EINVAL);
	json_object_put(o);
	o = json_tokener_parse("{\"kernel\":\"fd:0\"}");
	assert_int_equal(broker_vmdef_from_json_fds(o, &t, fds, 4, &a, err, sizeof(err)), -EINVAL);
	json_object_put(o);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_file_is_root_only),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_boot_concurrency),
		cmocka_unit_test(test_too_many_tenants),
		cmocka_unit_test(test_taps),
		cmocka_unit_test(test_dir_boundary),
		cmocka_unit_test(test_symlink_race),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_locks),
		cmocka_unit_test(test_dirs_overlap),
		cmocka_unit_test(test_passed_fds),
	};
	int fd = mkstemp(conf_path), r;
	char cmd[128];

	if (fd < 0)
		return 1;
	close(fd);
	/* The file tests make files of other owners (chown): they need root. */
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root (files of other owners)\n");
		unlink(conf_path);
		return 77;
	}
	if (!mkdtemp(scratch))
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(conf_path);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	if (system(cmd) != 0)
		r = 1;
	return r;
}
