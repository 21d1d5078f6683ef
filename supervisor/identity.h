/* SPDX-License-Identifier: MIT */
/*
 * Whom QEMU runs as, and with which environment. QEMU needs no privilege: the supervisor keeps root (when it has it)
 * for sysfs and the memlock limit, and the child drops to this identity before exec.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct profile;

struct identity {
	bool change;	  /* the child switches to uid/gid/groups (vgpuvm is root); otherwise QEMU keeps the caller's */
	bool root_fallback; /* root, for want of a "vgpuvm" user: still without any capability */
	uid_t uid;
	gid_t gid;
	gid_t *groups;	  /* all of QEMU's groups, primary first (the caller's, when not changing) */
	size_t n_groups;
	char *name;	  /* NULL for a bare uid */
	char *home;
};

/* Whether QEMU, running as id, is in group gid. */
bool identity_in_group(const struct identity *id, gid_t gid);

/* The name of the system user vgpuvm runs QEMU as by default, when it exists. */
#define IDENTITY_DEFAULT_USER "vgpuvm"

/*
 * Resolves the profile's "user" and "group" (see the README's security model). Errors: -ENOENT (no such user or
 * group), -EPERM (vgpuvm is not root and the profile names someone else); *ret_error says what to do.
 */
int identity_resolve(const struct profile *p, struct identity *ret, char **ret_error);
void identity_done(struct identity *id);

/*
 * QEMU's environment: the variables a display and a locale need, from base (the supervisor's), then HOME, USER and
 * LOGNAME for the identity, then the profile's own "env", which win. Nothing else is inherited. The strings are
 * malloc'd; free with strv_free().
 */
char **identity_env(const struct identity *id, char **base, char **profile_env);
