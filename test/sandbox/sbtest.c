/* The harness of sbtest.h: launcher and sandboxed child over two pipes.
 * Test code only; the child's replies are trusted. */
#include "test/sandbox/sbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void sbtest_require_root(void)
{
	if (geteuid() != 0) {
		printf("SKIP: needs root (user namespace id maps, mounts)\n");
		exit(SBTEST_SKIP);
	}
}

static void sbtest_reply(int fd, int32_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(3);
}

/* The child: wait for "go" (the launcher's pattern), sandbox, serve. */
static void sbtest_child(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep,
			 sbtest_cmd_fn on_cmd, void *arg, const struct sandbox_opts *want)
{
	struct sandbox_opts opts = {.tasks = SBTEST_TASKS};
	int keep[10] = {c->keep[0], c->keep[1]};
	size_t nkeep = 2;
	char cmd;
	int r;

	if (read(c->keep[0], &cmd, 1) != 1 || cmd != 'g')
		_exit(2);
	r = prep ? prep(keep, &nkeep, arg) : 0;
	if (r >= 0)
		r = sandbox_enter_opts(kind, keep, nkeep, want ? (opts = *want, &opts) : &opts);
	sbtest_reply(c->keep[1], r);
	if (r < 0)
		_exit(2);
	while (read(c->keep[0], &cmd, 1) == 1) {
		if (cmd == 'q')
			exit(0); /* atexit handlers too: the sanitizer runtime's */
		sbtest_reply(c->keep[1], on_cmd ? on_cmd(cmd, arg) : -ENOSYS);
	}
	exit(0);
}

int sbtest_start(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep,
		 sbtest_cmd_fn on_cmd, void *arg)
{
	return sbtest_start_opts(c, kind, prep, on_cmd, arg, NULL);
}

int sbtest_start_opts(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep,
		      sbtest_cmd_fn on_cmd, void *arg, const struct sandbox_opts *opts)
{
	int to_child[2], from_child[2], r;
	int32_t entered;

	sbtest_check(pipe2(to_child, O_CLOEXEC) == 0 && pipe2(from_child, O_CLOEXEC) == 0,
		     "pipe: %s", strerror(errno));
	c->cmd = to_child[1];
	c->rep = from_child[0];
	c->keep[0] = to_child[0];
	c->keep[1] = from_child[1];
	/* Inherited, not listed: sandbox_enter() must close it. */
	c->stray = open("/dev/null", O_RDONLY);
	sbtest_check(c->stray >= 0, "/dev/null: %s", strerror(errno));
	fflush(NULL);
	c->pid = sandbox_fork();
	if (c->pid == -EPERM || c->pid == -EINVAL || c->pid == -ENOSPC || c->pid == -EUSERS) {
		printf("SKIP: cannot create namespaces: %s\n", strerror(-c->pid));
		exit(SBTEST_SKIP);
	}
	sbtest_check(c->pid >= 0, "sandbox_fork: %s", strerror(-c->pid));
	if (c->pid == 0) {
		close(c->cmd);
		close(c->rep);
		sbtest_child(c, kind, prep, on_cmd, arg, opts);
	}
	close(c->keep[0]);
	close(c->keep[1]);
	close(c->stray);
	r = sandbox_map_ids(c->pid, SANDBOX_UID_DEFAULT, SANDBOX_GID_DEFAULT);
	sbtest_check(r == 0, "sandbox_map_ids: %s", strerror(-r));
	sbtest_check(write(c->cmd, "g", 1) == 1, "go: %s", strerror(errno));
	sbtest_check(read(c->rep, &entered, sizeof(entered)) == sizeof(entered),
		     "the child died before reporting sandbox_enter()");
	return entered;
}

int sbtest_command(struct sbchild *c, char cmd, int32_t *ret_reply)
{
	if (write(c->cmd, &cmd, 1) != 1)
		return -errno;
	if (read(c->rep, ret_reply, sizeof(*ret_reply)) != sizeof(*ret_reply))
		return -EPIPE;
	return 0;
}

int sbtest_finish(struct sbchild *c, char cmd)
{
	int status;

	(void)!write(c->cmd, &cmd, 1);
	close(c->cmd);
	while (waitpid(c->pid, &status, 0) < 0)
		sbtest_check(errno == EINTR, "waitpid: %s", strerror(errno));
	close(c->rep);
	return status;
}
