/* SPDX-License-Identifier: MIT */
/* VmRSS from /proc/PID/status. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/host/proc_status.h"
#include "util/macro.h"

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

int proc_status_rss(const char *proc_root, pid_t pid, uint64_t *ret)
{
	_cleanup_(fclosep) FILE *f = NULL;
	_cleanup_free_ char *path = NULL;
	char line[256];

	if (pid <= 0)
		return -ENOENT;
	if (asprintf(&path, "%s/%ld/status", proc_root, (long)pid) < 0)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t kb;
		char unit[8];

		if (strncmp(line, "VmRSS:", 6) != 0)
			continue;
		if (sscanf(line + 6, "%" SCNu64 " %7s", &kb, unit) != 2 || strcmp(unit, "kB") != 0 ||
		    kb > UINT64_MAX / 1024)
			return -EBADMSG;
		*ret = kb * 1024;
		return 0;
	}
	return -ENOENT;
}
