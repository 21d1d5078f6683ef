/* SPDX-License-Identifier: MIT */
/*
 * A file QEMU reads by path only (the kernel and initrd of "boot"), handed to it as a sealed copy in memory: a path
 * through /proc/self/fd/N reopens a file with QEMU's own permissions, which a file only root may read does not grant,
 * while a memfd's copy is readable by whoever holds it and can be changed by no one.
 */
#pragma once

/*
 * Opens path as a disk image is opened (trust_open_image: the same trust rules), which must be a regular file, and
 * copies it into a new memfd sealed against any change. Returns the memfd, or a negative errno with *ret_error.
 */
int sealed_copy(const char *path, const char *what, char **ret_error);
