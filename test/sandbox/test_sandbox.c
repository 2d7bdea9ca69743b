/* Tests of sandbox/ from outside and inside: a child made by sandbox_fork()
 * enters its sandbox, then the parent checks /proc/PID (seccomp mode,
 * no_new_privs, capabilities, ids, namespaces, fds, mounts, rlimits) and
 * makes it try forbidden system calls (it must die by SIGSYS) and allowed
 * work (it must survive and exit normally). Usage: test_sandbox TEST. */
#include <dirent.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox_internal.h"
#include "test/sandbox/sbtest.h"
#include "test/sandbox/test_sandbox_uring.h"

/* ---- in the child ---- */

static atomic_int kicked;

static void kick_handler(int sig)
{
	(void)sig;
	atomic_store(&kicked, 1);
}

/* What a vCPU thread does: name itself, allocate, wait for a kick. */
static void *vcpu_like_thread(void *arg)
{
	struct timespec ms = {0, 1000 * 1000};
	char *p = malloc(4096);

	(void)arg;
	pthread_setname_np(pthread_self(), "vcpu0");
	if (p)
		memset(p, 1, 4096);
	free(p);
	for (int i = 0; i < 5000 && !atomic_load(&kicked); i++)
		nanosleep(&ms, NULL);
	return NULL;
}

static int32_t child_threads(void)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	pthread_t t;
	int r;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	r = pthread_create(&t, NULL, vcpu_like_thread, NULL);
	if (r)
		return -r;
	r = pthread_kill(t, SIGUSR1);
	if (r)
		return -r;
	r = pthread_join(t, NULL);
	if (r)
		return -r;
	return atomic_load(&kicked) ? 0 : -ETIMEDOUT;
}

static atomic_int hold;

static void *held_thread(void *arg)
{
	struct timespec ms = {0, 1000 * 1000};

	(void)arg;
	for (int i = 0; i < 10000 && atomic_load(&hold); i++)
		nanosleep(&ms, NULL);
	return NULL;
}

/* With RLIMIT_NPROC 2: one thread besides the main one, not two. Returns 0
 * when the second is refused with EAGAIN. */
static int32_t child_thread_limit(void)
{
	pthread_t a, b;
	int r, r2;

	atomic_store(&hold, 1);
	r = pthread_create(&a, NULL, held_thread, NULL);
	if (r)
		return -r - 1000;
	r2 = pthread_create(&b, NULL, held_thread, NULL);
	atomic_store(&hold, 0);
	pthread_join(a, NULL);
	if (r2 == 0) {
		pthread_join(b, NULL);
		return -1;
	}
	return r2 == EAGAIN ? 0 : -r2;
}

/* Allowed work: memory, randomness, time, the pipes. */
static int32_t child_work(void)
{
	struct timespec t, us = {0, 1000};
	uint8_t rnd[16];
	void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *h;

	if (m == MAP_FAILED)
		return -errno;
	memset(m, 0xa5, 1 << 20);
	if (munmap(m, 1 << 20) < 0)
		return -errno;
	h = malloc(3 << 20); /* large: mmap'd by any allocator */
	if (!h)
		return -ENOMEM;
	memset(h, 1, 3 << 20);
	h = realloc(h, 5 << 20);
	if (!h)
		return -ENOMEM;
	free(h);
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -errno;
	if (clock_gettime(CLOCK_MONOTONIC, &t) < 0 || nanosleep(&us, NULL) < 0)
		return -errno;
	return 0;
}

/* Forbidden: each must end the process by SIGSYS (or, with
 * CELLVM_SECCOMP_LOG=1, fail and return -errno). */
static int32_t child_forbidden(char cmd)
{
	char *const argv[] = {(char *)"/bin/true", NULL};
	void *x;
	int r = -1;

	switch (cmd) {
	case 'o': r = open("/etc/passwd", O_RDONLY | O_CLOEXEC); break;
	case 'e': r = execve(argv[0], argv, argv + 1); break;
	case 's': r = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); break;
	case 'f':
		r = fork();
		if (r == 0)
			_exit(0);
		break;
	case 'x':
		x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		r = x == MAP_FAILED ? -1 : 0;
		break;
	case 'i': {
		/* Attaching to (or creating) another tap: never allowed. */
		struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
		r = ioctl(0, TUNSETIFF, &ifr);
		break;
	}
	}
	return r < 0 ? -errno : 0;
}

/* The net device's one ioctl: allowed through the filter (fd 0 is no tap,
 * so the kernel answers an error, which is the point: no SIGSYS). */
static int32_t child_tun_offload(void)
{
	return ioctl(0, TUNSETOFFLOAD, 0) < 0 && errno != ENOSYS ? 0 : -EINVAL;
}

/* Sanitizer builds: a bug found inside the sandbox is reported in full. */
static int32_t child_bug(char cmd)
{
	volatile int i = 8, big = 0x7fffffff;
	char *p = malloc(8);

	if (cmd == 'A')
		p[i] = 1; /* heap-buffer-overflow */
	else
		big += i; /* signed-integer-overflow */
	free(p);
	return big;
}

static int32_t child_command(char cmd, void *arg)
{
	(void)arg;
	switch (cmd) {
	case 'A':
	case 'B': return child_bug(cmd);
	case 'w': return child_work();
	case 'O': return child_tun_offload();
	case 't': return child_threads();
	case 'u': return sbtest_uring_child_io();
	case 'U': return sbtest_uring_child_late();
	case 'F': return sbtest_uring_child_grow();
	case 'T': return child_thread_limit();
	default: return child_forbidden(cmd);
	}
}

/* ---- in the parent ---- */

static char *read_proc(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[96];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	sbtest_check(fd >= 0, "%s: %s", path, strerror(errno));
	n = read(fd, buf, len - 1);
	sbtest_check(n >= 0, "%s: %s", path, strerror(errno));
	buf[n] = 0;
	close(fd);
	return buf;
}

static void expect_line(const char *text, const char *line)
{
	sbtest_check(strstr(text, line), "no line \"%s\" in:\n%s", line, text);
}

static void check_status(pid_t pid)
{
	static const char *const want[] = {
		"\nSeccomp:\t2\n",
		"\nNoNewPrivs:\t1\n",
		"\nCapInh:\t0000000000000000\n",
		"\nCapPrm:\t0000000000000000\n",
		"\nCapEff:\t0000000000000000\n",
		"\nCapBnd:\t0000000000000000\n",
		"\nCapAmb:\t0000000000000000\n",
		"\nUid:\t65534\t65534\t65534\t65534\n",
		"\nGid:\t65534\t65534\t65534\t65534\n",
	};
	char buf[8192];
	const char *g;

	read_proc(pid, "status", buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		expect_line(buf, want[i]);
	/* No supplementary group left from the host (root's 0 in particular). */
	g = strstr(buf, "\nGroups:\t");
	sbtest_check(g && strspn(g + 9, " ") == strcspn(g + 9, "\n"), "groups left: %.40s", g);
}

static void check_namespaces(pid_t pid)
{
	static const char *const ns[] = {"user", "mnt", "pid", "ipc", "uts", "net"};

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		char p1[64], p2[64], l1[64] = "", l2[64] = "";

		snprintf(p1, sizeof(p1), "/proc/%d/ns/%s", (int)pid, ns[i]);
		snprintf(p2, sizeof(p2), "/proc/self/ns/%s", ns[i]);
		sbtest_check(readlink(p1, l1, sizeof(l1) - 1) > 0, "%s: %s", p1, strerror(errno));
		sbtest_check(readlink(p2, l2, sizeof(l2) - 1) > 0, "%s: %s", p2, strerror(errno));
		sbtest_check(strcmp(l1, l2) != 0, "the child shares our %s namespace", ns[i]);
	}
}

/* Exactly the kept fds (and whichever of 0-2 we have ourselves). */
static void check_fds(const struct sbchild *c)
{
	char path[64];
	int seen_keep = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)c->pid);
	d = opendir(path);
	sbtest_check(d, "%s: %s", path, strerror(errno));
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd == c->keep[0] || fd == c->keep[1])
			seen_keep++;
		else
			sbtest_check(fd <= 2 && fcntl(fd, F_GETFD) >= 0,
				     "the child still has fd %d (stray fd was %d)", fd, c->stray);
	}
	closedir(d);
	sbtest_check(seen_keep == 2, "a kept fd is gone");
}

/* One mount, an empty read-only tmpfs as "/". */
static void check_root(pid_t pid)
{
	char buf[4096], path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	read_proc(pid, "mountinfo", buf, sizeof(buf));
	sbtest_check(strchr(buf, '\n') == buf + strlen(buf) - 1, "more than one mount:\n%s", buf);
	sbtest_check(strstr(buf, " / / ro,nosuid,nodev,noexec,") && strstr(buf, " - tmpfs "),
		     "root is not an ro,nosuid,nodev,noexec tmpfs: %s", buf);
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	d = opendir(path);
	sbtest_check(d, "%s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	sbtest_check(n == 0, "the root has %d entries", n);
}

static void check_limits(const struct sbchild *c)
{
	char buf[4096];
	const char *l;
	long cur, max;

	read_proc(c->pid, "limits", buf, sizeof(buf));
	expect_line(buf, "Max core file size        0                    0");
	l = strstr(buf, "Max open files");
	sbtest_check(l && sscanf(l + 14, "%ld %ld", &cur, &max) == 2, "no open-files limit");
	/* highest kept fd + 1 + the kind's slack (128 for a device) */
	sbtest_check(cur == max && max <= (c->keep[1] > c->keep[0] ? c->keep[1] : c->keep[0]) + 129,
		     "open files limit %ld/%ld", cur, max);
	l = strstr(buf, "Max processes");
	sbtest_check(l && sscanf(l + 13, "%ld %ld", &cur, &max) == 2, "no processes limit");
	sbtest_check(cur == SBTEST_TASKS && max == SBTEST_TASKS, "processes limit %ld/%ld", cur,
		     max);
	l = strstr(buf, "Max locked memory");
	sbtest_check(l && sscanf(l + 17, "%ld %ld", &cur, &max) == 2 && cur == 0 && max == 0,
		     "locked memory limit not 0");
}

/* The hostname, seen from a helper that joins the child's uts namespace. */
static void check_hostname(pid_t pid)
{
	char path[64];
	int fd, status;
	pid_t h;

	snprintf(path, sizeof(path), "/proc/%d/ns/uts", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	sbtest_check(fd >= 0, "%s: %s", path, strerror(errno));
	h = fork();
	if (h == 0) {
		char name[64] = "";
		_exit(setns(fd, CLONE_NEWUTS) == 0 && gethostname(name, sizeof(name)) == 0 &&
				      strcmp(name, "cellvm") == 0
			      ? 0
			      : 1);
	}
	close(fd);
	sbtest_check(h > 0 && waitpid(h, &status, 0) == h, "fork: %s", strerror(errno));
	sbtest_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hostname is not cellvm");
}

static void expect_exit0(int status, const char *what)
{
	sbtest_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status 0x%x (signal %d)",
		     what, status, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void expect_sigsys(int status, const char *what)
{
	sbtest_check(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
		     "%s: not killed by SIGSYS: status 0x%x", what, status);
}

static int start(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep)
{
	int r = sbtest_start(c, kind, prep, child_command, NULL);

	sbtest_check(r >= 0, "sandbox_enter in the child: %s", strerror(-r));
	if (r & SANDBOX_NO_LANDLOCK)
		printf("note: no Landlock on this kernel\n");
	return r;
}

static int start_opts(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep,
		      const struct sandbox_opts *opts)
{
	int r = sbtest_start_opts(c, kind, prep, child_command, NULL, opts);

	sbtest_check(r >= 0, "sandbox_enter in the child: %s", strerror(-r));
	return r;
}

static int log_prep(int *keep, size_t *nkeep, void *arg);

/* RLIMIT_NPROC, counted for the sandbox's own user (root of its user
 * namespace, 65534 outside): a device (1 task) cannot fork, even where
 * seccomp would let it (the log mode of test builds), and a core with one
 * vCPU (2 tasks) gets one thread and no second. */
static int test_nproc(void)
{
	struct sandbox_opts one = {.tasks = 1}, two = {.tasks = 2};
	struct sbchild c;
	int32_t reply;

	start_opts(&c, SANDBOX_CORE, NULL, &two);
	sbtest_check(sbtest_command(&c, 'T', &reply) == 0, "the child died making threads");
	sbtest_check(reply == 0, "a thread beyond RLIMIT_NPROC: %d", reply);
	expect_exit0(sbtest_finish(&c, 'q'), "exit after the thread limit");
#ifdef CELLVM_TEST_HOOKS
	start_opts(&c, SANDBOX_DEV_BLK, log_prep, &one);
	sbtest_check(sbtest_command(&c, 'f', &reply) == 0, "the child died forking");
	sbtest_check(reply == -EAGAIN, "fork under RLIMIT_NPROC 1: %d", reply);
	expect_exit0(sbtest_finish(&c, 'q'), "exit after the fork");
#else
	(void)one;
	(void)log_prep;
	printf("note: fork past seccomp needs CELLVM_SECCOMP_LOG (test hooks): threads only\n");
#endif
	return 0;
}

static int test_layers(void)
{
	struct sbchild c;

	start(&c, SANDBOX_DEV_BLK, NULL);
	check_status(c.pid);
	check_namespaces(c.pid);
	check_fds(&c);
	check_root(c.pid);
	check_limits(&c);
	check_hostname(c.pid);
	expect_exit0(sbtest_finish(&c, 'q'), "exit after the checks");
	return 0;
}

/* One forbidden call per child: SIGSYS, not an error return. */
static int test_kill(enum sandbox_kind kind, char cmd, const char *what)
{
	struct sbchild c;

	start(&c, kind, NULL);
	expect_sigsys(sbtest_finish(&c, cmd), what);
	return 0;
}

static int test_allowed(enum sandbox_kind kind, char cmd)
{
	struct sbchild c;
	int32_t reply;

	start(&c, kind, NULL);
	sbtest_check(sbtest_command(&c, cmd, &reply) == 0, "the child died doing '%c'", cmd);
	sbtest_check(reply == 0, "'%c' in the child: %s", cmd, strerror(-reply));
	/* Twice: nothing the first round left behind (thread exit) kills it. */
	sbtest_check(sbtest_command(&c, cmd, &reply) == 0 && reply == 0, "second '%c'", cmd);
	expect_exit0(sbtest_finish(&c, 'q'), "a normal exit");
	return 0;
}

static int log_prep(int *keep, size_t *nkeep, void *arg)
{
	(void)keep;
	(void)nkeep;
	(void)arg;
	return setenv("CELLVM_SECCOMP_LOG", "1", 1) < 0 ? -errno : 0;
}

/* Test builds: CELLVM_SECCOMP_LOG=1 logs instead of killing; the other
 * layers still hold (open fails: no such file in the empty root). */
static int test_seccomp_log(void)
{
#ifdef CELLVM_TEST_HOOKS
	struct sbchild c;
	int32_t reply;

	start(&c, SANDBOX_DEV_BLK, log_prep);
	sbtest_check(sbtest_command(&c, 'o', &reply) == 0, "killed despite CELLVM_SECCOMP_LOG=1");
	sbtest_check(reply == -ENOENT || reply == -EACCES, "open: %d", reply);
	expect_exit0(sbtest_finish(&c, 'q'), "exit in log mode");
	return 0;
#else
	(void)log_prep;
	printf("SKIP: CELLVM_SECCOMP_LOG exists only with CELLVM_TEST_HOOKS\n");
	return SBTEST_SKIP;
#endif
}

static int report_prep(int *keep, size_t *nkeep, void *arg)
{
	const int *pipe_fds = arg;

	(void)keep;
	(void)nkeep;
	return dup2(pipe_fds[1], STDERR_FILENO) < 0 ? -errno : 0;
}

/* ASan+UBSan builds: a report from inside the sandbox ends in the
 * sanitizer's exit status, symbolized, not in SIGSYS halfway through. */
static int test_sanitizer_report(char cmd, const char *kind)
{
#if defined(__clang__) && defined(CELLVM_SANITIZER_RUNTIME)
	if (cmd == 'A') {
		printf("SKIP: clang's runtime symbolizes in a subprocess, which the sandbox "
		       "forbids (ASAN_OPTIONS=symbolize=0 gives the raw report)\n");
		return SBTEST_SKIP;
	}
#endif
#ifdef CELLVM_SANITIZER_RUNTIME
	static char out[65536];
	struct sbchild c;
	size_t len = 0;
	ssize_t n;
	int fds[2], status;

	sbtest_check(pipe2(fds, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	sbtest_check(sbtest_start(&c, SANDBOX_CORE, report_prep, child_command, fds) >= 0,
		     "sandbox_enter in the child");
	close(fds[1]);
	status = sbtest_finish(&c, cmd);
	while (len < sizeof(out) - 1 && (n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = 0;
	printf("the child's report (expected):\n%s\n", out);
	/* Its exit code, or SIGABRT with abort_on_error=1; never SIGSYS. */
	sbtest_check((WIFEXITED(status) && WEXITSTATUS(status) != 0) ||
			     (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT),
		     "the report did not end in the sanitizer's exit: status 0x%x", status);
	sbtest_check(strstr(out, kind), "no \"%s\" in the report", kind);
	sbtest_check(strstr(out, "test_sandbox.c:"), "the report has no file:line");
	return 0;
#else
	(void)report_prep;
	(void)cmd;
	(void)kind;
	printf("SKIP: not a sanitizer build\n");
	return SBTEST_SKIP;
#endif
}

/* Without a user namespace of its own sandbox_enter() must not touch the
 * host's mounts or hostname. The child unshares mount and uts namespaces
 * all the same, so that a failure of the check cannot hurt the machine. */
static int test_refuses_host(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (unshare(CLONE_NEWNS | CLONE_NEWUTS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(SBTEST_SKIP);
		_exit(sandbox_enter(SANDBOX_DEV_BLK, NULL, 0) == -EPERM ? 0 : 1);
	}
	sbtest_check(pid > 0 && waitpid(pid, &status, 0) == pid, "fork: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == SBTEST_SKIP)
		return SBTEST_SKIP;
	expect_exit0(status, "sandbox_enter outside a user namespace did not refuse");
	return 0;
}

/* Landlock alone (no namespaces, no seccomp, no root): paths are out of
 * reach, an fd opened before still works. */
static int test_landlock(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char c;
		int abi;
		int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    sandbox_landlock_restrict(&abi) < 0)
			_exit(1);
		if (abi == 0)
			_exit(SBTEST_SKIP);
		if (open("/etc/passwd", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
			_exit(2);
		if (opendir("/") || errno != EACCES)
			_exit(3);
		if (mkdir("/tmp/cellvm-landlock-test", 0700) == 0 || errno != EACCES)
			_exit(4);
		_exit(read(fd, &c, 1) == 1 ? 0 : 5);
	}
	sbtest_check(pid > 0 && waitpid(pid, &status, 0) == pid, "fork: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == SBTEST_SKIP) {
		printf("SKIP: no Landlock on this kernel\n");
		return SBTEST_SKIP;
	}
	expect_exit0(status, "Landlock");
	return 0;
}

int main(int argc, char **argv)
{
	const char *t = argc > 1 ? argv[1] : "";

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(t, "landlock"))
		return test_landlock();
	if (!strcmp(t, "uring"))
		return sbtest_uring_plain();
	sbtest_require_root();
	if (!strcmp(t, "layers"))
		return test_layers();
	if (!strcmp(t, "kill_open"))
		return test_kill(SANDBOX_DEV_BLK, 'o', "open");
	if (!strcmp(t, "kill_execve"))
		return test_kill(SANDBOX_DEV_BLK, 'e', "execve");
	if (!strcmp(t, "kill_socket"))
		return test_kill(SANDBOX_DEV_BLK, 's', "socket");
	if (!strcmp(t, "kill_exec_mmap"))
		return test_kill(SANDBOX_CORE, 'x', "mmap(PROT_EXEC)");
	if (!strcmp(t, "kill_fork"))
		return test_kill(SANDBOX_CORE, 'f', "fork in the core");
	if (!strcmp(t, "kill_uring_setup"))
		return test_kill(SANDBOX_DEV_BLK, 'U', "io_uring_setup in the blk device");
	if (!strcmp(t, "nproc"))
		return test_nproc();
	if (!strcmp(t, "uring_fsize"))
		return sbtest_uring_fsize(start_opts);
	if (!strcmp(t, "allowed"))
		return test_allowed(SANDBOX_DEV_BLK, 'w');
	if (!strcmp(t, "net_kill_open"))
		return test_kill(SANDBOX_DEV_NET, 'o', "open in the net device");
	if (!strcmp(t, "net_kill_tunsetiff"))
		return test_kill(SANDBOX_DEV_NET, 'i', "ioctl(TUNSETIFF) in the net device");
	if (!strcmp(t, "net_kill_socket"))
		return test_kill(SANDBOX_DEV_NET, 's', "socket in the net device");
	if (!strcmp(t, "net_offload_allowed"))
		return test_allowed(SANDBOX_DEV_NET, 'O');
	if (!strcmp(t, "core_threads"))
		return test_allowed(SANDBOX_CORE, 't');
	if (!strcmp(t, "seccomp_log"))
		return test_seccomp_log();
	if (!strcmp(t, "asan_report"))
		return test_sanitizer_report('A', "heap-buffer-overflow");
	if (!strcmp(t, "ubsan_report"))
		return test_sanitizer_report('B', "signed integer overflow");
	if (!strcmp(t, "refuses_host"))
		return test_refuses_host();
	if (!strcmp(t, "uring_blk"))
		return sbtest_uring_sandboxed(start);
	fprintf(stderr, "usage: %s TEST\n", argv[0]);
	return 2;
}
