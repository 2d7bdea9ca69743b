/* Logging for every cellvm process: one line per call, written with a single
 * write(2) so lines from vCPU threads and children do not interleave. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_role = "cellvm";
static enum log_level log_max = LOG_INFO;

void log_init(const char *role, enum log_level max)
{
	log_role = role;
	log_max = max;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	char line[1024];
	va_list ap;
	int n;

	if (lvl > log_max)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", log_role, names[lvl]);
	if (n < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strnlen(line, sizeof(line) - 2);
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
