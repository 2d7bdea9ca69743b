/* cellvm-check-input: the test guest's evdev reader. Opens every
 * /dev/input/event*, prints each device's identity, then every key, button,
 * relative and absolute event it reads, as the guest's own drivers report
 * them, until KEY_F12 is pressed (the host's end marker). Output lines:
 *   CELLVM-KMSG <a kernel log line about USB devices>
 *   CELLVM-IRQ <the xHCI controller's line of /proc/interrupts>
 *   CELLVM-USB <port> idVendor=<hex> idProduct=<hex> bcdDevice=<hex>
 *       manufacturer=<s> product=<s> serial=<s>   (one line, from sysfs)
 *   CELLVM-INPUT-DEV <name> bus=<hex> vendor=<hex> product=<hex>
 *   CELLVM-INPUT-READY <count>
 *   CELLVM-EV <device name>|<type>|<code>|<value>
 * Runs in the guest; statically linked. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_util.h"

#define MAX_DEVS 16

static int count_devices(void)
{
	DIR *d = opendir("/dev/input");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += strncmp(e->d_name, "event", 5) == 0;
	if (d)
		closedir(d);
	return n;
}

/* The kernel's log lines about USB devices found (enumeration, ids,
 * strings). */
static void print_usb_kmsg(void)
{
	static const char *const words[] = {"usb ", "xhci", NULL};

	guest_print_kmsg(words);
}

/* How the xHCI controller interrupts (MSI-X or the IOAPIC pin). */
static void print_xhci_irq(void)
{
	char line[512];
	FILE *f = fopen("/proc/interrupts", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "xhci"))
			printf("CELLVM-IRQ %s", line);
	if (f)
		fclose(f);
}

/* One sysfs attribute of a USB device, newline dropped ("" if none). */
static void usb_attr(const char *dev, const char *attr, char *buf, size_t len)
{
	char path[300];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/sys/bus/usb/devices/%s/%s", dev, attr);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* Every USB device the kernel enumerated, with its descriptors' ids and
 * strings as the kernel read them (this kernel does not log them: no
 * CONFIG_USB_ANNOUNCE_NEW_DEVICES). Root hubs ("usbN") are left out. */
static void print_usb_devices(void)
{
	DIR *d = opendir("/sys/bus/usb/devices");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char v[16], p[16], r[16], m[80], n[80], sn[80];

		if (!strchr(e->d_name, '-') || strchr(e->d_name, ':'))
			continue;
		usb_attr(e->d_name, "idVendor", v, sizeof(v));
		usb_attr(e->d_name, "idProduct", p, sizeof(p));
		usb_attr(e->d_name, "bcdDevice", r, sizeof(r));
		usb_attr(e->d_name, "manufacturer", m, sizeof(m));
		usb_attr(e->d_name, "product", n, sizeof(n));
		usb_attr(e->d_name, "serial", sn, sizeof(sn));
		printf("CELLVM-USB %s idVendor=%s idProduct=%s bcdDevice=%s manufacturer=%s "
		       "product=%s serial=%s\n",
		       e->d_name, v, p, r, m, n, sn);
	}
	if (d)
		closedir(d);
}

/* Print what fd holds now (it is non-blocking). Returns 1 once end_code is
 * pressed (nothing after it is printed), else 0. */
static int drain(int fd, const char *name, int end_code, int quiet)
{
	struct input_event ev[64];
	ssize_t got;

	while ((got = read(fd, ev, sizeof(ev))) > 0) {
		for (ssize_t k = 0; k < got / (ssize_t)sizeof(ev[0]); k++) {
			if (ev[k].type != EV_KEY && ev[k].type != EV_REL && ev[k].type != EV_ABS)
				continue;
			if (ev[k].type == EV_KEY && ev[k].value == 2)
				continue; /* autorepeat: the kernel's, not ours */
			if (!quiet)
				printf("CELLVM-EV %s|%u|%u|%d\n", name, ev[k].type, ev[k].code,
				       ev[k].value);
			if (ev[k].type == EV_KEY && ev[k].code == end_code && ev[k].value == 1) {
				fflush(stdout);
				return 1;
			}
		}
	}
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_DEVS];
	char names[MAX_DEVS][128];
	int want = argc > 1 ? atoi(argv[1]) : 0;
	int end_code = argc > 2 ? atoi(argv[2]) : KEY_F12;
	int quiet = argc > 3 && strcmp(argv[3], "quiet") == 0;
	int n = 0;
	DIR *d;
	struct dirent *e;

	for (int tries = 0; count_devices() < want && tries < 600; tries++)
		usleep(100 * 1000);
	print_usb_kmsg();
	print_usb_devices();
	print_xhci_irq();
	d = opendir("/dev/input");
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
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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
			if ((pfd[i].revents & POLLIN) &&
			    drain(pfd[i].fd, names[i], end_code, quiet)) {
				/* Everything injected before the marker was taken by
				 * the drivers already: print what the other devices
				 * still hold, then stop. */
				for (int j = 0; j < n; j++)
					if (j != i)
						(void)drain(pfd[j].fd, names[j], -1, quiet);
				printf("CELLVM-DATA input events=done\n");
				fflush(stdout);
				return 0;
			}
		}
	}
}
