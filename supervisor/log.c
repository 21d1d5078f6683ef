/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "supervisor/log.h"

int log_max_level = LOG_INFO;
static bool to_journal;

static const char *const level_names[] = {
	[LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",   [LOG_CRIT] = "critical", [LOG_ERR] = "error",
	[LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info",     [LOG_DEBUG] = "debug",
};

void log_setup(void)
{
	const char *js = getenv("JOURNAL_STREAM"), *lvl = getenv("VGPUVM_LOG_LEVEL");
	unsigned long dev, ino;
	struct stat st;

	/* JOURNAL_STREAM is inherited by children too, so check that stderr really is that stream. */
	if (js && sscanf(js, "%lu:%lu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev &&
	    st.st_ino == ino)
		to_journal = true;
	if (lvl)
		for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
			if (strcmp(lvl, level_names[i]) == 0)
				log_max_level = i;
}

int log_internal(int level, int error, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	if (error < 0)
		error = -error;
	/* %m in the format means the error passed in, not whatever errno happens to be. */
	errno = error;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (to_journal)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, "vgpuvm: %s: %s\n", level_names[level & 7], msg);
	return error ? -error : -EIO;
}
