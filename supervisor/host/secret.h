/* SPDX-License-Identifier: MIT */
/* A secret the supervisor reads for QEMU (SPICE's password), from a file only root can change. */
#pragma once

/* The longest password SPICE takes (spice-server's SPICE_MAX_PASSWORD_LENGTH). */
#define SECRET_SPICE_MAX 60

/*
 * Reads the first line of path, which must be a regular file that root (or the caller, when not root) owns and no one
 * else can write, in directories no one else can write either (trust_path()), reached without following a symlink at
 * the end. Returns 0 with a malloc'd string of 1 to max bytes in *ret; -ENOENT, -EPERM, -EINVAL (empty, too long, a
 * NUL or control character), or another negative errno, with *ret_error saying why and the fix.
 */
int secret_read(const char *path, const char *what, size_t max, char **ret, char **ret_error);
