/* SPDX-License-Identifier: MIT */
/*
 * Looking up local users and groups without NSS: the supervisor is a static binary, and glibc's NSS modules cannot be
 * loaded into one reliably. The users vgpuvm runs QEMU as are local system users, which /etc/passwd and /etc/group
 * hold ($VGPUVM_PASSWD_FILE and $VGPUVM_GROUP_FILE in tests).
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct user_info {
	char *name;
	char *home;
	uid_t uid;
	gid_t gid; /* the primary group */
};

/* A group name or a number. -ENOENT when there is none. */
int group_lookup(const char *name, gid_t *ret);

/* Whether /etc/group has an entry with that number. */
bool group_gid_exists(gid_t gid);

/* A user name, or a number (found in the file or not: a number alone gives itself as uid and gid, no name). -ENOENT
 * when there is no such user. Free with user_info_done(). */
int user_lookup(const char *name, struct user_info *ret);
void user_info_done(struct user_info *u);

/* The groups a user belongs to: the primary one first, then every group that lists the user as a member. */
int user_groups(const char *name, gid_t primary, gid_t **ret, size_t *ret_n);
