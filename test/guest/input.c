/* cellvm-check-input: the test guest's evdev reader. Opens every
 * /dev/input/event*, prints each device's identity, then every key, button,
 * relative and absolute event it reads, as the guest's own drivers report
 * them, until KEY_F12 is pressed (the host's end marker). Output lines:
 *   CELLVM-INPUT-DEV <name> bus=<hex> vendor=<hex> product=<hex>
 *   CELLVM-INPUT-READY <count>
 *   CELLVM-EV <device name>|<type>|<code>|<value>
 * Runs in the guest; statically linked. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEVS 16

int main(void)
{
	struct pollfd pfd[MAX_DEVS];
	char names[MAX_DEVS][128];
	int n = 0;
	DIR *d = opendir("/dev/input");
	struct dirent *e;

	if (!d) {
		perror("/dev/input");
		return 1;
	}
	while ((e = readdir(d)) && n < MAX_DEVS) {
		char path[300];
		struct input_id id;
		int fd;

		if (strncmp(e->d_name, "event", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(names[n], 0, sizeof(names[n]));
		if (ioctl(fd, EVIOCGNAME(sizeof(names[n]) - 1), names[n]) < 0 ||
		    ioctl(fd, EVIOCGID, &id) < 0) {
			close(fd);
			continue;
		}
		printf("CELLVM-INPUT-DEV %s bus=%04x vendor=%04x product=%04x\n", names[n],
		       id.bustype, id.vendor, id.product);
		pfd[n] = (struct pollfd){.fd = fd, .events = POLLIN};
		n++;
	}
	closedir(d);
	printf("CELLVM-INPUT-READY %d\n", n);
	fflush(stdout);
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) < 0)
			return 1;
		for (int i = 0; i < n; i++) {
			struct input_event ev[64];
			ssize_t got;

			if (!(pfd[i].revents & POLLIN))
				continue;
			got = read(pfd[i].fd, ev, sizeof(ev));
			for (ssize_t k = 0; got > 0 && k < got / (ssize_t)sizeof(ev[0]); k++) {
				if (ev[k].type != EV_KEY && ev[k].type != EV_REL &&
				    ev[k].type != EV_ABS)
					continue;
				if (ev[k].type == EV_KEY && ev[k].value == 2)
					continue; /* autorepeat: the kernel's, not ours */
				printf("CELLVM-EV %s|%u|%u|%d\n", names[i], ev[k].type, ev[k].code,
				       ev[k].value);
				if (ev[k].type == EV_KEY && ev[k].code == KEY_F12 &&
				    ev[k].value == 1) {
					printf("CELLVM-DATA input events=done\n");
					fflush(stdout);
					return 0;
				}
			}
			fflush(stdout);
		}
	}
}
