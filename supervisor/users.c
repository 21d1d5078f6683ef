/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/users.h"

int group_lookup(const char *name, gid_t *ret)
{
	const char *file = getenv("VGPUVM_GROUP_FILE");
	char line[4096], *end;
	unsigned long n;
	FILE *f;

	errno = 0;
	n = strtoul(name, &end, 10);
	if (*name && !*end && errno == 0 && n < (gid_t)-1) {
		*ret = (gid_t)n;
		return 0;
	}
	f = fopen(file && *file ? file : "/etc/group", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* name:password:gid:members */
		char *colon = strchr(line, ':'), *gid;

		if (!colon || (size_t)(colon - line) != strlen(name) || strncmp(line, name, strlen(name)) != 0)
			continue;
		gid = strchr(colon + 1, ':');
		if (!gid)
			break;
		n = strtoul(gid + 1, &end, 10);
		if (end == gid + 1 || *end != ':')
			break;
		fclose(f);
		*ret = (gid_t)n;
		return 0;
	}
	fclose(f);
	return -ENOENT;
}
