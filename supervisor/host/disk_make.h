/* SPDX-License-Identifier: MIT */
/* Making a disk image a profile's disk names with a "size", when it does not exist yet, with qemu-img. */
#pragma once

#include <stdint.h>

/* The Debian package of qemu-img. */
#define DISK_MAKE_PACKAGE "qemu-utils"

/*
 * Makes file, an image of format and size bytes, unless something is there already (a file, or anything else: a
 * symlink is never followed, and what is there is left alone): 1 when it made it, 0 when it was there. As root, the
 * directory must be one root alone can write (-EPERM with *ret_error otherwise), so that no one can swap the name
 * for a symlink while qemu-img writes it; the image is made root's, mode 0600 (QEMU gets it as an fd). The name is
 * taken first (O_CREAT|O_EXCL), then qemu-img writes the image over it; should qemu-img fail, the file goes. qemu-img
 * missing: -ENOENT, naming DISK_MAKE_PACKAGE.
 */
int disk_make(const char *file, const char *format, uint64_t size, char **ret_error);
