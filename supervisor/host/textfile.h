/* SPDX-License-Identifier: MIT */
/*
 * Writing a file that another program reads whole at any moment (node_exporter's textfile collector): a temporary
 * file in the same directory, written, synced, and renamed over the target, so that a reader sees the old text or the
 * new, never half of one.
 */
#pragma once

#include <stddef.h>

/*
 * Replaces PATH with the len bytes at data, mode 0644. As root the directory must be root's and writable by no one
 * else, all the way from / (docs/security.md): it is checked, then opened, and everything after is done from its fd
 * without following a symlink (the temporary file is created O_EXCL|O_NOFOLLOW; rename replaces a symlink at PATH,
 * never what it points to). The temporary file is ".NAME.PID.tmp", which no "*.prom" glob matches. Returns 0, or a
 * negative errno with *ret_error saying what failed (-EPERM: the directory cannot be trusted).
 */
int textfile_write(const char *path, const char *data, size_t len, char **ret_error);
