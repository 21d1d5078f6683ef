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
	bool change;  /* the child switches to uid/gid/groups (vgpuvm is root); otherwise QEMU keeps the caller's */
	bool dynamic; /* a uid of systemd's DynamicUser range, for want of a "vgpuvm" user (see below) */
	int lock_fd;  /* holds the dynamic uid for this supervisor; -1 when none */
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* all of QEMU's groups, primary first (the caller's, when not changing) */
	size_t n_groups;
	char *name; /* NULL for a bare uid */
	char *home;
};

/* Whether QEMU, running as id, is in group gid. */
bool identity_in_group(const struct identity *id, gid_t gid);

/* The name of the system user vgpuvm runs QEMU as by default, when it exists. */
#define IDENTITY_DEFAULT_USER "vgpuvm"

/* The DynamicUser range systemd documents (UIDS-GIDS.md), which vgpuvm shares with it through the same locks. */
#define IDENTITY_DYNAMIC_FIRST 61184
#define IDENTITY_DYNAMIC_LAST 65519

/*
 * Resolves the profile's "user" and "group" (see docs/security.md). QEMU never runs as uid 0: as root, without "user"
 * and without a "vgpuvm" system user, QEMU gets a uid and gid of its own from the DynamicUser range, picked from a
 * hash of the VM's name and held with a lock in lock_dir (systemd's /run/systemd/dynamic-uid when systemd runs, so
 * that neither hands out the other's), and in no passwd or group entry. Errors: -ENOENT (no such user or group),
 * -EPERM (vgpuvm is not root and the profile names someone else; "user" is root), -EUSERS (no free dynamic uid);
 * *ret_error says what to do.
 */
int identity_resolve(const struct profile *p, const char *lock_dir, struct identity *ret, char **ret_error);
void identity_done(struct identity *id);

/*
 * QEMU's environment: the variables a display and a locale need, from base (the supervisor's), then HOME, USER and
 * LOGNAME for the identity, then the profile's own "env", which win. Nothing else is inherited. The strings are
 * malloc'd; free with strv_free().
 */
char **identity_env(const struct identity *id, char **base, char **profile_env);
