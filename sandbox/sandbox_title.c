/* The process title of a sandboxed process: what sandbox_enter_opts() put
 * in place, written over the argv and environment strings (as setproctitle(3)
 * does), so that root outside reads it in /proc/PID/cmdline, which needs no
 * ptrace rights even on a non-dumpable process. Runs in the process being
 * sandboxed; the text is its own report, not a proof. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sandbox_internal.h"

extern char **environ;

/* argv[0] and the environment strings right after it, as the kernel laid
 * them out; the strings are moved to the heap so that getenv() still works.
 * Returns the area's length, 0 when it cannot be used. */
static size_t sandbox_title_area(char **ret_start)
{
	char *start = program_invocation_name, *end;

	if (!start)
		return 0;
	end = start + strlen(start) + 1;
	for (size_t i = 0; environ && environ[i]; i++) {
		if (environ[i] != end)
			continue;
		end += strlen(end) + 1;
		i = (size_t)-1; /* the next string may sit anywhere in the array */
	}
	for (size_t i = 0; environ && environ[i]; i++) {
		if (environ[i] >= start && environ[i] < end) {
			char *copy = strdup(environ[i]);

			if (!copy)
				return 0;
			environ[i] = copy;
		}
	}
	*ret_start = start;
	return (size_t)(end - start);
}

void sandbox_title_set(const char *text)
{
	size_t room, n;
	char *p;

	room = sandbox_title_area(&p);
	if (room < 2)
		return;
	/* Keep argv[0] (pgrep -f, ps) and append the report. */
	n = strlen(p);
	if (n + 1 >= room)
		return;
	p[n] = ' ';
	n++;
	for (const char *t = "[sandbox: "; *t && n < room - 1; t++)
		p[n++] = *t;
	for (const char *t = text; *t && n < room - 1; t++)
		p[n++] = *t;
	if (n < room - 1)
		p[n++] = ']';
	/* NUL to the end: the kernel shows the area up to the first NUL once
	 * the last byte of argv is no longer one. */
	memset(p + n, 0, room - n);
}
