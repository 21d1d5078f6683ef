/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "supervisor/host/dri.h"
#include "util/macro.h"

int dri_driver_find(const char *search_path, const char *name, char **ret_path)
{
	const char *p = search_path && *search_path ? search_path : DRI_DEFAULT_PATH;

	while (*p) {
		size_t len = strcspn(p, ":");
		_cleanup_free_ char *file = NULL;
		struct stat st;

		/* Only absolute entries: a relative one would be taken from QEMU's working directory, not ours. */
		if (len > 0 && p[0] == '/') {
			if (asprintf(&file, "%.*s/%s_dri.so", (int)len, p, name) < 0)
				return -ENOMEM;
			if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
				if (ret_path)
					*ret_path = steal_pointer(&file);
				return 0;
			}
		}
		p += len;
		if (*p == ':')
			p++;
	}
	return -ENOENT;
}
