/* SPDX-License-Identifier: MIT */
/* Asking a QEMU binary what it supports (-version, -display help, -device NAME,help) without starting a VM. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Finds NAME as execvp would: itself when it has a '/', else in $PATH. -ENOENT when there is none. */
int qemu_probe_find(const char *name, char **ret_path);

/*
 * Runs PATH with ARGS (NULL-terminated, without argv[0]), stdin from /dev/null, stdout and stderr into one pipe, and
 * collects what it prints (at most 1 MiB) until it exits or the deadline passes (then it is killed: -ETIMEDOUT).
 * Returns its exit status, 128+N for a signal, or a negative errno.
 */
int qemu_probe_run(const char *path, const char *const *args, uint64_t deadline, char **ret_output);

/* Whom a probe runs as, instead of the caller: root never runs the binary a profile names (it runs QEMU as another
 * uid). */
struct qemu_probe_as {
	uid_t uid;
	gid_t gid;
};

/*
 * Asks QEMU NAME (found as qemu_probe_find() does) its version with -version, as AS (NULL: as the caller), and gives
 * it as PROFILE_QEMU_VERSION(major, minor, micro). -EBADMSG when the answer names no version.
 */
int qemu_probe_version(const char *name, const struct qemu_probe_as *as, uint64_t deadline, unsigned *ret_version);
