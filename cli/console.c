/* Console relay; see console.h. On a terminal, input is raw (so ^C reaches the
 * guest) and Ctrl-A x ends the VM, as in other VMMs. */
#include "cli/console.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli/devices.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "launcher/launcher_fault.h"

#define ESCAPE_CHAR 0x01 /* Ctrl-A */

static struct termios saved_tio;
static bool tio_saved;

static void console_restore_tty(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
}

static void console_raw_tty(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	tio_saved = true;
	t = saved_tio;
	cfmakeraw(&t);
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

/* Returns false when the user asked to quit. */
static bool console_forward_input(struct core_proc *p, const uint8_t *buf, size_t n, bool *escape)
{
	uint8_t out[512];
	size_t o = 0;

	if (!tio_saved) {
		(void)fd_write_all(p->console, buf, n);
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		if (*escape) {
			*escape = false;
			if (buf[i] == 'x')
				return false;
			if (buf[i] != ESCAPE_CHAR)
				out[o++] = ESCAPE_CHAR;
		} else if (buf[i] == ESCAPE_CHAR) {
			*escape = true;
			continue;
		}
		out[o++] = buf[i];
	}
	(void)fd_write_all(p->console, out, o);
	return true;
}

/* SIGTERM (systemd's stop, kill): the first presses the ACPI power button,
 * as virsh shutdown does; the VM ends when the guest powers off, or at once
 * when it does not listen (devices_on_core_chan). A second SIGTERM, or one
 * while the core cannot be asked, ends the VM at once. */
static void console_on_sigterm(struct core_proc *p, struct devices *ds, int sigfd, bool *pressed)
{
	struct signalfd_siginfo si;

	if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (!*pressed && ds && !ds->core_ending && ds->core_pending == LAUNCHER_CORE_NONE &&
	    launcher_core_power_button(p) == 0) {
		*pressed = true;
		ds->core_pending = LAUNCHER_CORE_POWER_BUTTON;
		log_info("SIGTERM: pressing the ACPI power button");
		return;
	}
	log_info("SIGTERM: ending the VM");
	kill(p->pid, SIGKILL);
}

int console_relay(struct core_proc *p, struct devices *ds)
{
	bool stdin_open = true, console_open = true, escape = false, pressed = false;
	uint8_t buf[4096];
	sigset_t term;
	int status, sigfd;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	sigfd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
	console_raw_tty();
	for (;;) {
		struct pollfd pfd[4 + DEVICES_POLL_MAX] = {
			{.fd = console_open ? p->console : -1, .events = POLLIN},
			{.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
			{.fd = p->pidfd, .events = POLLIN},
			{.fd = sigfd, .events = POLLIN},
		};
		int timeout = -1;
		size_t ndev = ds ? devices_poll_fill(ds, pfd + 4, &timeout) : 0;
		int n = poll(pfd, 4 + ndev, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (ds && !pfd[2].revents)
			devices_poll_ready(ds, pfd + 4);
		if (pfd[3].revents)
			console_on_sigterm(p, ds, sigfd, &pressed);
		if (pfd[0].revents) {
			ssize_t got = read(p->console, buf, sizeof(buf));
			if (got > 0)
				(void)fd_write_all(STDOUT_FILENO, buf, (size_t)got);
			else if (got == 0 || errno != EINTR)
				console_open = false;
		}
		if (pfd[1].revents) {
			ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));
			if (got > 0) {
				if (!console_forward_input(p, buf, (size_t)got, &escape)) {
					kill(p->pid, SIGKILL);
					break;
				}
			} else if (got == 0 || errno != EINTR) {
				/* No more input (CI, a closed pipe): the VM runs on. */
				stdin_open = false;
			}
		}
		if (pfd[2].revents && !pfd[0].revents) {
			/* The core is gone; whatever it wrote is already in the socket. */
			while (console_open) {
				ssize_t got = read(p->console, buf, sizeof(buf));
				if (got <= 0)
					break;
				(void)fd_write_all(STDOUT_FILENO, buf, (size_t)got);
			}
			break;
		}
	}
	console_restore_tty();
	if (sigfd >= 0)
		close(sigfd);
	status = launcher_wait_core(p);
	return status;
}
