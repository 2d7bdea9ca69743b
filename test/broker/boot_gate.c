/* A gate in front of cellvm-core, for the broker's boot tests: started by the
 * launcher in the core's place (CELLVM_LIBEXEC names a directory where
 * cellvm-core is this program), it connects to the test's socket and waits
 * there until the test lets it go, then execs the real core with the same
 * arguments and fds. While it waits, the boot is provably in progress: the
 * core has not even started, so it cannot have reported Ready. Runs as the
 * launcher's child (its namespaces, before any sandbox); trusts nothing but
 * its environment, which the test set. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *path = getenv("CELLVM_TEST_GATE_SOCKET");
	const char *core = getenv("CELLVM_TEST_GATE_CORE");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char go = 0;
	int fd;

	(void)argc;
	if (!path || !core || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "boot_gate: CELLVM_TEST_GATE_SOCKET and _CORE must be set\n");
		return 127;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* close-on-exec: the core must find only its channel open */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "boot_gate: %s: %s\n", path, strerror(errno));
		return 127;
	}
	/* One byte from the test opens the gate; EOF (the test gave up) ends the boot. */
	if (read(fd, &go, 1) != 1 || go != 'g')
		return 127;
	close(fd);
	execv(core, argv);
	fprintf(stderr, "boot_gate: %s: %s\n", core, strerror(errno));
	return 127;
}
