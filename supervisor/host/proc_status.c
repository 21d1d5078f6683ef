/* SPDX-License-Identifier: MIT */
/* VmRSS from /proc/PID/status. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The kernel's task flag for a task in do_exit() (include/linux/sched.h). */
#define PF_EXITING 0x00000004u

bool proc_dying(const char *proc_root, pid_t pid)
{
	char path[PATH_MAX], buf[1024], *p;
	unsigned long flags;
	char state;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%ld/stat", proc_root, (long)pid) >= sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT; /* already reaped by no one but us: gone */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "PID (COMM) S PPID PGRP SESSION TTY TPGID FLAGS ...": COMM may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return false;
	return state == 'Z' || state == 'X' || (flags & PF_EXITING);
}
