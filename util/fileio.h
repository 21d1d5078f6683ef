/* SPDX-License-Identifier: MIT */
/* Small whole-file reads and writes, as sysfs and /proc want them. */
#pragma once

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/*
 * Reads a small regular file (at most max bytes) into a NUL-terminated string with trailing white space removed.
 * Anything else (a FIFO, a device) is -EBADFD, found without waiting: the open does not block.
 */
int read_one_line(const char *path, size_t max, char **ret);

/* Reads a file holding one unsigned decimal number. */
int read_uint64(const char *path, uint64_t *ret);

/* Writes s to path in one write() call, as sysfs attributes require. Returns 0 or the negative errno of open/write. */
int write_string(const char *path, const char *s);

/* mkdir -p: path and every directory above it that is missing, each with mode. */
int mkdir_p(const char *path, mode_t mode);
