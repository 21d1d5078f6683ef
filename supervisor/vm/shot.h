/* SPDX-License-Identifier: MIT */
/*
 * Screenshots without a path: QEMU writes into a memfd the supervisor made (passed with QMP add-fd), the supervisor
 * seals it, and the client gets it over the control socket and copies it into the file it was asked for. No one ever
 * opens a path QEMU or a control socket's server named.
 */
#pragma once

#include <stdint.h>

struct json_object;

/* The largest screenshot handed on: a PNG of an 8K x 8K RGB display is below it. */
#define SHOT_SIZE_MAX (64ULL * 1024 * 1024)

/* The QMP arguments of the three commands that take a screenshot into fdset SHOT_FDSET_BASE + n. */
struct shot_args {
	struct json_object *add_fd, *screendump, *remove_fd;
};

/* The first fdset id of a screenshot: far above any a profile's extra_args would add by hand (-add-fd set=N). */
#define SHOT_FDSET_BASE (INT64_C(1) << 30)

int shot_args_new(int64_t n, struct shot_args *ret);
void shot_args_done(struct shot_args *a);

/*
 * A new memfd for one screenshot: *ret_memfd stays with the supervisor; *ret_wfd is the same file opened write-only,
 * for QEMU (the fdset behind /dev/fdset/N hands out only an fd of the access mode QEMU asks for, O_WRONLY).
 */
int shot_new(int *ret_memfd, int *ret_wfd);

/*
 * Freezes what QEMU wrote (sealed against writes, size changes and further seals, whoever still holds an fd) and
 * checks it: at most SHOT_SIZE_MAX bytes, starting with the PNG signature. *ret_fd gets a read-only fd of it for the
 * client, *ret_size its size. -EBUSY when a writable mapping of it exists, -ENODATA when nothing was written, -EFBIG,
 * -EBADMSG when it is not a PNG.
 */
int shot_seal(int memfd, int *ret_fd, uint64_t *ret_size);

/*
 * The client's check of an fd received as a screenshot: a regular file sealed against writes and size changes, of 1
 * to SHOT_SIZE_MAX bytes. -EBADFD when it is not such a file (a FIFO, a device, an ordinary file), -ENODATA, -EFBIG.
 */
int shot_check(int fd, uint64_t *ret_size);

/*
 * Opens the client's output file for writing, as the caller, without following a symlink at path and without
 * blocking on a FIFO; an existing file is truncated only after it was found to be safe to write. -ELOOP for a
 * symlink, -EBADFD for something that is not a regular file, -EMLINK for a file with other links (a hard link to a
 * file elsewhere), -EPERM for a file another uid owns.
 */
int shot_open_output(const char *path, int *ret_fd);

/* Copies the first size bytes of in (read with pread, from offset 0) to out. -EIO when in is shorter. */
int shot_copy(int in, int out, uint64_t size);

/* What shot_seal()'s error means, for the client and the log. */
const char *shot_strerror(int r);
