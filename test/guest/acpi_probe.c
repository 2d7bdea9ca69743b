/* cellvm-acpi-probe: the stock-kernel guest's program (test/guest/stock-init.sh
 * runs it as the last thing of /init). Prints, as machine-readable lines on
 * the console, what Debian's stock kernel found of the platform, then does
 * what cellvm.action= on the kernel command line says:
 *   button    (default) waits for KEY_POWER on every input device named
 *             "Power Button" (the ACPI button driver's), then syncs and powers
 *             the machine off with reboot(RB_POWER_OFF): what logind or acpid
 *             do on a real system
 *   poweroff  powers off at once (the guest's own ACPI S5)
 *   reboot    reboots at once (the kernel's reboot path: the ACPI reset
 *             register first)
 *   none      prints and exits
 * cellvm.limit=S bounds the wait for the key (default 600 s): then it says so
 * and powers off anyway, so the host sees the line and not a hang.
 * Output lines:
 *   CELLVM-KMSG <a kernel log line about ACPI, PCI config access, PNP, i8042>
 *   CELLVM-ACPI-TABLE <signature> [size=<bytes>] [from=kmsg]
 *   CELLVM-MMCONFIG used|unused [<the /proc/iomem line>]
 *   CELLVM-PNP <dev> <id>[,<id>...]
 *   CELLVM-PCI <slot> vendor=<hex> device=<hex> class=<hex> cfg=<bytes>
 *   CELLVM-BLK <name> sectors=<n>
 *   CELLVM-INPUT <eventN> <name>
 *   CELLVM-READY action=<action> buttons=<n>
 *   CELLVM-POWER-KEY <eventN>               (then the power-off)
 *   CELLVM-ACTION <action>                  (just before reboot())
 * Runs in the guest; statically linked. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#include "guest_util.h"

#define MAX_BUTTONS 8

/* The value of cellvm.NAME= on the kernel command line, into out. */
static int cmdline_arg(const char *name, char *out, size_t n)
{
	char buf[4096], key[64];
	ssize_t got;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return -EIO;
	buf[got] = 0;
	snprintf(key, sizeof(key), "cellvm.%s=", name);
	for (char *w = strtok(buf, " \n"); w; w = strtok(NULL, " \n"))
		if (strncmp(w, key, strlen(key)) == 0) {
			snprintf(out, n, "%s", w + strlen(key));
			return 0;
		}
	return -ENOENT;
}

/* The first line of a small sysfs file, without its newline. */
static int read_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(out, (int)n, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	return 0;
}

/* Every table the kernel exposes (/sys/firmware/acpi/tables: DSDT, FACP,
 * APIC, MCFG, ...; SSDTs as SSDT1...), and the RSDP and XSDT, which it only
 * names in its log ("ACPI: RSDP 0x..."). */
static void print_tables(void)
{
	static const char *const sigs[] = {"ACPI: RSDP ", "ACPI: XSDT ", "ACPI: RSDT ", NULL};
	char path[512];
	DIR *d = opendir("/sys/firmware/acpi/tables");
	struct dirent *e;
	char rec[1024];
	ssize_t got;
	int fd;

	while (d && (e = readdir(d))) {
		long size = -1;
		FILE *f;

		if (e->d_name[0] == '.' || e->d_type == DT_DIR)
			continue;
		snprintf(path, sizeof(path), "/sys/firmware/acpi/tables/%s", e->d_name);
		f = fopen(path, "re");
		if (f) {
			/* sysfs says 0 as st_size: read it through. */
			size = 0;
			while ((got = (ssize_t)fread(rec, 1, sizeof(rec), f)) > 0)
				size += got;
			fclose(f);
		}
		printf("CELLVM-ACPI-TABLE %s size=%ld\n", e->d_name, size);
	}
	if (d)
		closedir(d);
	else
		printf("CELLVM-ACPI-TABLE none (no /sys/firmware/acpi/tables: %s)\n",
		       strerror(errno));

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	while (fd >= 0 && ((got = read(fd, rec, sizeof(rec) - 1)) > 0 || errno == EPIPE)) {
		char *text;

		if (got <= 0)
			continue;
		rec[got] = 0;
		text = strchr(rec, ';');
		if (!text)
			continue;
		text++;
		for (int i = 0; sigs[i]; i++)
			if (strncmp(text, sigs[i], strlen(sigs[i])) == 0)
				printf("CELLVM-ACPI-TABLE %.4s from=kmsg\n", text + 6);
	}
	if (fd >= 0)
		close(fd);
}

/* Whether PCI config space goes through MMCONFIG (ECAM): the kernel
 * reserves the window as "PCI MMCONFIG ..." in /proc/iomem when it uses it. */
static void print_mmconfig(void)
{
	char line[256];
	FILE *f = fopen("/proc/iomem", "re");
	int found = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "PCI MMCONFIG")) {
			char *s = line + strspn(line, " ");

			s[strcspn(s, "\n")] = 0;
			printf("CELLVM-MMCONFIG used %s\n", s);
			found = 1;
		}
	if (f)
		fclose(f);
	if (!found)
		printf("CELLVM-MMCONFIG unused\n");
}

/* Each PNP device's ids (one per line in sysfs), comma-separated. */
static void print_pnp(void)
{
	DIR *d = opendir("/sys/bus/pnp/devices");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[512], ids[256] = "", line[64];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pnp/devices/%s/id", e->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			if (ids[0])
				strncat(ids, ",", sizeof(ids) - strlen(ids) - 1);
			strncat(ids, line, sizeof(ids) - strlen(ids) - 1);
		}
		if (f)
			fclose(f);
		printf("CELLVM-PNP %s %s\n", e->d_name, ids);
	}
	if (d)
		closedir(d);
}

static void print_pci(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		static const char *const attrs[] = {"vendor", "device", "class"};
		char path[512], val[3][32];
		long cfg = 0;
		char buf[4096];
		ssize_t got;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		for (int i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", e->d_name,
				 attrs[i]);
			if (read_line(path, val[i], sizeof(val[i])) < 0)
				snprintf(val[i], sizeof(val[i]), "?");
		}
		/* 256 bytes without extended config space, 4096 with. */
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		while (fd >= 0 && (got = read(fd, buf, sizeof(buf))) > 0)
			cfg += got;
		if (fd >= 0)
			close(fd);
		printf("CELLVM-PCI %s vendor=%s device=%s class=%s cfg=%ld\n", e->d_name, val[0],
		       val[1], val[2], cfg);
	}
	if (d)
		closedir(d);
}

static void print_blk(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[512], size[32];

		if (e->d_name[0] == '.' || strncmp(e->d_name, "loop", 4) == 0 ||
		    strncmp(e->d_name, "ram", 3) == 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/size", e->d_name);
		if (read_line(path, size, sizeof(size)) < 0)
			snprintf(size, sizeof(size), "?");
		printf("CELLVM-BLK %s sectors=%s\n", e->d_name, size);
	}
	if (d)
		closedir(d);
}

/* Lists the input devices and opens each "Power Button" one into fds. */
static int open_buttons(int *fds, char names[][32])
{
	DIR *d = opendir("/sys/class/input");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[512], name[128];

		if (strncmp(e->d_name, "event", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/class/input/%s/device/name", e->d_name);
		if (read_line(path, name, sizeof(name)) < 0)
			continue;
		printf("CELLVM-INPUT %s %s\n", e->d_name, name);
		if (strcmp(name, "Power Button") != 0 || n == MAX_BUTTONS)
			continue;
		snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
		fds[n] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fds[n] < 0) {
			printf("CELLVM-INPUT-ERROR %s: %s\n", path, strerror(errno));
			continue;
		}
		snprintf(names[n], 32, "%.31s", e->d_name);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* Waits for KEY_POWER pressed on one of fds, at most limit_s seconds.
 * Returns its index, or -1 when the time ran out. */
static int wait_power_key(const int *fds, int n, long limit_s)
{
	struct pollfd pfd[MAX_BUTTONS];
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	for (;;) {
		long left_ms;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = limit_s * 1000 -
			  ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left_ms <= 0)
			return -1;
		r = poll(pfd, (nfds_t)n, (int)left_ms);
		if (r < 0 && errno != EINTR)
			return -1;
		for (int i = 0; r > 0 && i < n; i++) {
			struct input_event ev;

			if (!(pfd[i].revents & POLLIN))
				continue;
			while (read(fds[i], &ev, sizeof(ev)) == (ssize_t)sizeof(ev))
				if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1)
					return i;
		}
	}
}

int main(void)
{
	static const char *const words[] = {"ACPI", "MMCONFIG", "ECAM",	  "PCI: Using", "i8042",
					    "AE_",  "pnp",	"reboot", "Power",	NULL};
	char action[32] = "button", limit[32] = "600", names[MAX_BUTTONS][32];
	int fds[MAX_BUTTONS], n, which;

	setvbuf(stdout, NULL, _IOLBF, 0);
	cmdline_arg("action", action, sizeof(action));
	cmdline_arg("limit", limit, sizeof(limit));

	guest_print_kmsg(words);
	print_tables();
	print_mmconfig();
	print_pnp();
	print_pci();
	print_blk();
	n = open_buttons(fds, names);
	printf("CELLVM-READY action=%s buttons=%d\n", action, n);

	if (strcmp(action, "none") == 0)
		return 0;
	if (strcmp(action, "button") == 0) {
		which = n ? wait_power_key(fds, n, strtol(limit, NULL, 10)) : -1;
		if (which < 0) {
			printf("CELLVM-POWER-KEY none (%s)\n",
			       n ? "no KEY_POWER in time" : "no Power Button device");
			return 1;
		}
		printf("CELLVM-POWER-KEY %s\n", names[which]);
		snprintf(action, sizeof(action), "poweroff");
	}
	printf("CELLVM-ACTION %s\n", action);
	sync();
	if (strcmp(action, "poweroff") == 0)
		reboot(RB_POWER_OFF);
	else if (strcmp(action, "reboot") == 0)
		reboot(RB_AUTOBOOT);
	else
		printf("CELLVM-ACTION unknown action '%s'\n", action);
	printf("CELLVM-ACTION-FAILED %s: %s\n", action, strerror(errno));
	return 1;
}
