/* SPDX-License-Identifier: MIT */
/*
 * Prints every key path the profile parser accepts, one per line ("memory", "vgpu.xres", "disks[].file"), so that the
 * documentation test compares vgpuvm-profile(5) with the parser's own tables rather than with a copy of them.
 *
 *   profile-keys      exit 0, or 1 when stdout cannot be written
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "profiles/profile_parse.h"

static int print_key(const char *key_path, void *userdata)
{
	(void)userdata;
	return puts(key_path) < 0 ? -errno : 0;
}

int main(void)
{
	if (profile_foreach_key(print_key, NULL) < 0 || fflush(stdout) != 0)
		return EXIT_FAILURE;
	return EXIT_SUCCESS;
}
