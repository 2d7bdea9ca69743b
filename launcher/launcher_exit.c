/* How a VM's processes ended, read one way for cellvm run and cellvm-broker:
 * wait statuses into exit statuses, and a core's exit status into enum
 * vm_exit and words. Runs in the privileged process; the statuses are the
 * kernel's, the numbers in them the children's (any value is handled). */
#include "launcher/launcher.h"

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>

int launcher_exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return -1;
}

enum vm_exit launcher_exit_decode(int status, int *ret_signal)
{
	*ret_signal = status > 128 ? status - 128 : 0;
	/* Only the core's own statuses mean what enum vm_exit says; a failed
	 * exec (127), a kill or a status we could not read is the VMM's failure. */
	return vm_exit_name(status) ? (enum vm_exit)status : VM_EXIT_ERROR;
}

const char *launcher_exit_text(int status, char *buf, size_t len)
{
	int sig;
	enum vm_exit e = launcher_exit_decode(status, &sig);

	if (sig)
		snprintf(buf, len, "killed by signal %d", sig);
	else
		snprintf(buf, len, "%s", vm_exit_name(e));
	return buf;
}

enum vm_exit launcher_exit_start_failed(int r, int status)
{
	if (vm_exit_name(status))
		return (enum vm_exit)status;
	return r == -ENOENT || r == -EACCES || r == -EISDIR ? VM_EXIT_BAD_INPUT : VM_EXIT_ERROR;
}
