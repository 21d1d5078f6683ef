/* SPDX-License-Identifier: MIT */
/*
 * Looking up local groups without NSS: the supervisor is a static binary, and glibc's NSS modules cannot be loaded
 * into one reliably. vgpuvm's groups are local system groups, which /etc/group holds.
 */
#pragma once

#include <sys/types.h>

/* A group name (from /etc/group, or $VGPUVM_GROUP_FILE in tests) or a number. -ENOENT when there is none. */
int group_lookup(const char *name, gid_t *ret);
