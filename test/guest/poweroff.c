/* cellvm-poweroff: runs in the test guest's user space (as root) and powers
 * the VM off through cellvm-core's power-off port, which the test kernel
 * (no ACPI, no ioperm) cannot reach by itself: it writes SLP_EN, the high
 * byte of PM1a_CNT at port 0x605, through /dev/port. Exits 1 when the VM is
 * still running afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PM1A_CNT_HIGH 0x605 /* bits 8-15 of PM1a_CNT (0x604) */
#define SLP_EN_HIGH   0x20  /* bit 13 of PM1a_CNT */

int main(void)
{
	const unsigned char v = SLP_EN_HIGH;
	int fd;

	sync();
	fd = open("/dev/port", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "cellvm-poweroff: /dev/port: %s\n", strerror(errno));
		return 1;
	}
	if (pwrite(fd, &v, 1, PM1A_CNT_HIGH) != 1) {
		fprintf(stderr, "cellvm-poweroff: writing port 0x%x: %s\n", PM1A_CNT_HIGH,
			strerror(errno));
		return 1;
	}
	/* The VM is gone before this line unless the VMM ignored the write. */
	fprintf(stderr, "cellvm-poweroff: the VM is still running\n");
	return 1;
}
