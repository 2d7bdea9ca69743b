/* bench-rusage: run a command and report what its process tree cost, from
 * wait4(): wall time, user+sys CPU and the peak RSS of its largest process.
 * A small exec helper, so that the measuring program's own RSS (inherited by
 * a forked child until exec) does not count. Output on stderr, one line:
 * "rusage: status=S wall_us=W cpu_us=C maxrss_kib=R". */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status = 0;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-rusage COMMAND [ARGS...]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return 127;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "rusage: status=%d wall_us=%lld cpu_us=%lld maxrss_kib=%ld\n",
		WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
		(long long)((t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000),
		(long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
			ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
		ru.ru_maxrss);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
