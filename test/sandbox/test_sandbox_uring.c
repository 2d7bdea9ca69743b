/* io_uring under sandbox_uring_restrict(): only the listed opcodes, only on
 * registered files, no register operations once enabled; a blk sandbox
 * uses a ring made before it (and dies making one inside it), and its
 * RLIMIT_FSIZE holds the file at its size through the ring too. */
#include "test/sandbox/test_sandbox_uring.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char uring_text[] = "cellvm sandbox io_uring test\n";

/* The child's ring and image (test state, one child per process). */
static struct io_uring child_ring;
static int child_image = -1;

static int uring_file(void)
{
	char path[] = "/tmp/cellvm-sbtest-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd < 0)
		return -errno;
	unlink(path);
	if (write(fd, uring_text, sizeof(uring_text)) != sizeof(uring_text)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static int uring_run(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int r = io_uring_submit(ring);

	if (r < 0)
		return r;
	r = io_uring_wait_cqe(ring, &cqe);
	if (r < 0)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r;
}

/* IORING_OP_READ of the file, registered (index 0) or by fd. */
static int uring_read(struct io_uring *ring, int fd, bool fixed, uint8_t extra_flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	char buf[sizeof(uring_text)] = "";
	int r;

	io_uring_prep_read(sqe, fixed ? 0 : fd, buf, sizeof(buf), 0);
	sqe->flags |= (fixed ? IOSQE_FIXED_FILE : 0) | extra_flags;
	r = uring_run(ring);
	if (r == (int)sizeof(buf) && memcmp(buf, uring_text, sizeof(buf)) != 0)
		return -EILSEQ;
	return r;
}

static int uring_readv_fixed(struct io_uring *ring)
{
	char buf[sizeof(uring_text)] = "";
	struct iovec iov = {buf, sizeof(buf)};
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_readv(sqe, 0, &iov, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	return uring_run(ring);
}

static int uring_openat(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	return uring_run(ring);
}

static int uring_nop(struct io_uring *ring)
{
	io_uring_prep_nop(io_uring_get_sqe(ring));
	return uring_run(ring);
}

static int uring_init(struct io_uring *ring, unsigned flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	return io_uring_queue_init_params(8, ring, &p);
}

int sbtest_uring_plain(void)
{
	static const uint8_t ops[] = {IORING_OP_READ, IORING_OP_WRITE};
	struct io_uring ring, open_ring;
	int fd = uring_file(), r, upd = -1;

	sbtest_check(fd >= 0, "temp file: %s", strerror(-fd));
	r = uring_init(&ring, IORING_SETUP_R_DISABLED);
	if (r == -ENOSYS || r == -EPERM) {
		printf("SKIP: no io_uring here: %s\n", strerror(-r));
		return SBTEST_SKIP;
	}
	sbtest_check(r == 0, "io_uring_queue_init: %s", strerror(-r));
	/* A ring that was not created disabled cannot be restricted. */
	sbtest_check(uring_init(&open_ring, 0) == 0, "second ring");
	r = sandbox_uring_restrict(&open_ring, ops, sizeof(ops));
	sbtest_check(r == -EBADFD, "restricting an enabled ring: %d", r);
	io_uring_queue_exit(&open_ring);
	sbtest_check(sandbox_uring_restrict(&ring, ops, 0) == -EINVAL, "no opcodes accepted");

	sbtest_check(io_uring_register_files(&ring, &fd, 1) == 0, "register_files");
	r = sandbox_uring_restrict(&ring, ops, sizeof(ops));
	sbtest_check(r == 0, "sandbox_uring_restrict: %s", strerror(-r));

	r = uring_read(&ring, fd, true, 0);
	sbtest_check(r == (int)sizeof(uring_text), "fixed READ: %d", r);
	r = uring_read(&ring, fd, false, 0);
	sbtest_check(r == -EACCES, "READ by fd: %d", r);
	r = uring_read(&ring, fd, true, IOSQE_ASYNC);
	sbtest_check(r == -EACCES, "fixed READ with IOSQE_ASYNC: %d", r);
	r = uring_openat(&ring);
	sbtest_check(r == -EACCES, "OPENAT: %d", r);
	r = uring_nop(&ring);
	sbtest_check(r == -EACCES, "NOP: %d", r);
	r = io_uring_register_files_update(&ring, 0, &upd, 1);
	sbtest_check(r == -EACCES, "files update after enable: %d", r);
	r = sandbox_uring_restrict(&ring, ops, sizeof(ops));
	sbtest_check(r < 0, "restricting twice succeeded");
	io_uring_queue_exit(&ring);
	close(fd);
	return 0;
}

/* In the child, before sandbox_enter(): the ring cellvm-dev-blk should have. */
static int uring_prep(int *keep, size_t *nkeep, void *arg)
{
	static const uint8_t ops[] = {IORING_OP_READ, IORING_OP_READV};
	int r;

	(void)arg;
	child_image = uring_file();
	if (child_image < 0)
		return child_image;
	r = uring_init(&child_ring, IORING_SETUP_R_DISABLED);
	if (r < 0)
		return r;
	r = io_uring_register_files(&child_ring, &child_image, 1);
	if (r < 0)
		return r;
	r = sandbox_uring_restrict(&child_ring, ops, sizeof(ops));
	if (r < 0)
		return r;
	keep[(*nkeep)++] = child_image;
	keep[(*nkeep)++] = child_ring.ring_fd;
	return 0;
}

int32_t sbtest_uring_child_io(void)
{
	if (uring_read(&child_ring, child_image, true, 0) != (int)sizeof(uring_text))
		return -1;
	if (uring_readv_fixed(&child_ring) != (int)sizeof(uring_text))
		return -2;
	if (uring_read(&child_ring, child_image, false, 0) != -EACCES)
		return -3;
	if (uring_openat(&child_ring) != -EACCES)
		return -4;
	return 0;
}

/* Inside the sandbox, what blk_io_init() did when it ran there: the blk
 * policy no longer allows it, and io_uring_setup is the first call (a fresh
 * ring would be free of any restriction: OPENAT, SOCKET...). */
int32_t sbtest_uring_child_late(void)
{
	static const uint8_t ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				      IORING_OP_FALLOCATE};
	struct io_uring ring;
	uint64_t n;
	int efd, r;

	r = uring_init(&ring, IORING_SETUP_R_DISABLED);
	if (r < 0)
		return -10;
	if (io_uring_register_files(&ring, &child_image, 1) < 0)
		return -11;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0 || io_uring_register_eventfd(&ring, efd) < 0)
		return -12;
	if (sandbox_uring_restrict(&ring, ops, sizeof(ops)) < 0)
		return -13;
	if (uring_readv_fixed(&ring) != (int)sizeof(uring_text))
		return -14;
	if (read(efd, &n, sizeof(n)) != sizeof(n) || n == 0)
		return -15;
	if (uring_openat(&ring) != -EACCES)
		return -16;
	io_uring_queue_exit(&ring);
	close(efd);
	return 0;
}

int sbtest_uring_sandboxed(int (*start)(struct sbchild *c, enum sandbox_kind kind,
					sbtest_prep_fn prep))
{
	struct sbchild c;
	int32_t reply;
	int status;

	start(&c, SANDBOX_DEV_BLK, uring_prep);
	sbtest_check(sbtest_command(&c, 'u', &reply) == 0, "the child died using its ring");
	sbtest_check(reply == 0, "ring I/O in the sandbox: step %d", -reply);
	status = sbtest_finish(&c, 'q');
	sbtest_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit: 0x%x", status);
	return 0;
}

/* In the child, before sandbox_enter(): blk's ring (its four opcodes) on a
 * file of sizeof(uring_text) bytes, which RLIMIT_FSIZE will hold at that. */
static int uring_prep_blk(int *keep, size_t *nkeep, void *arg)
{
	static const uint8_t ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				      IORING_OP_FALLOCATE};
	int r;

	(void)arg;
	child_image = uring_file();
	if (child_image < 0)
		return child_image;
	r = uring_init(&child_ring, IORING_SETUP_R_DISABLED);
	if (r < 0)
		return r;
	r = io_uring_register_files(&child_ring, &child_image, 1);
	if (r < 0)
		return r;
	r = sandbox_uring_restrict(&child_ring, ops, sizeof(ops));
	if (r < 0)
		return r;
	keep[(*nkeep)++] = child_image;
	keep[(*nkeep)++] = child_ring.ring_fd;
	return 0;
}

int32_t sbtest_uring_child_grow(void)
{
	char buf[512];
	struct iovec iov = {buf, sizeof(buf)};
	struct io_uring_sqe *sqe;
	struct stat st;
	int r;

	memset(buf, 0x5a, sizeof(buf));
	/* A write past the end: EFBIG, not SIGXFSZ. */
	sqe = io_uring_get_sqe(&child_ring);
	io_uring_prep_writev(sqe, 0, &iov, 1, sizeof(uring_text));
	sqe->flags |= IOSQE_FIXED_FILE;
	r = uring_run(&child_ring);
	if (r != -EFBIG)
		return r < 0 ? r : -1000 - r;
	/* fallocate growing the file (mode 0): EFBIG too. */
	sqe = io_uring_get_sqe(&child_ring);
	io_uring_prep_fallocate(sqe, 0, 0, 0, 1 << 20);
	sqe->flags |= IOSQE_FIXED_FILE;
	r = uring_run(&child_ring);
	if (r != -EFBIG)
		return r < 0 ? r - 2000 : -3000 - r;
	/* Inside the limit, writing works. */
	sqe = io_uring_get_sqe(&child_ring);
	iov.iov_len = sizeof(uring_text);
	io_uring_prep_writev(sqe, 0, &iov, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	r = uring_run(&child_ring);
	if (r != (int)sizeof(uring_text))
		return r < 0 ? r - 4000 : -5000;
	if (fstat(child_image, &st) < 0 || st.st_size != (off_t)sizeof(uring_text))
		return -6000;
	return 0;
}

int sbtest_uring_fsize(int (*start)(struct sbchild *c, enum sandbox_kind kind, sbtest_prep_fn prep,
				    const struct sandbox_opts *opts))
{
	struct sandbox_opts o = {
		.tasks = SBTEST_TASKS, .limit_file_size = true, .file_size = sizeof(uring_text)};
	struct sbchild c;
	int32_t reply;
	int status;

	start(&c, SANDBOX_DEV_BLK, uring_prep_blk, &o);
	sbtest_check(sbtest_command(&c, 'F', &reply) == 0, "the child died growing its file");
	sbtest_check(reply == 0, "growing the file past RLIMIT_FSIZE: %d", reply);
	status = sbtest_finish(&c, 'q');
	sbtest_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit: 0x%x", status);
	return 0;
}
