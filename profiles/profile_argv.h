/* SPDX-License-Identifier: MIT */
/* struct profile → QEMU's argv. */
#pragma once

struct profile;

/* The fd number at which QEMU finds its QMP socket (documented in the README). */
#define PROFILE_QMP_FD 3

struct profile_argv_opts {
	const char *sysfs_root; /* NULL: "/sys" */
	int qmp_fd;		/* where the QMP socket will be in QEMU; 0: PROFILE_QMP_FD */
};

/* Builds the NULL-terminated argv that `vgpuvm run` executes; argv[0] is the profile's qemu binary. */
int profile_argv(const struct profile *p, const struct profile_argv_opts *opts, char ***ret);

/* Quotes one argument for a POSIX shell when it needs it. Returns a malloc'd string or NULL. */
char *profile_shell_quote(const char *s);
