/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/disk_make.h"
#include "supervisor/host/qemu_probe.h"
#include "supervisor/host/trust.h"
#include "util/errmsg.h"
#include "util/macro.h"
#include "util/time-util.h"

/* qemu-img writes a qcow2 header or sets a raw file's length: instant, but a loaded machine gets time. */
#define QEMU_IMG_TIMEOUT (60 * USEC_PER_SEC)

int disk_make(const char *file, const char *format, uint64_t size, char **ret_error)
{
	_cleanup_free_ char *dcopy = strdup(file), *bcopy = strdup(file), *img = NULL, *out = NULL, *err = NULL;
	_cleanup_close_ int dir = -1, fd = -1;
	char sz[32];
	const char *d, *b;
	struct stat st;
	int r;

	if (!dcopy || !bcopy)
		return -ENOMEM;
	d = dirname(dcopy);
	b = basename(bcopy);
	if ((r = trust_path(d, "the directory of a disk to make", &err)) < 0)
		return errmsg(ret_error, r, "%s%s", err ?: strerror(-r),
			      r == -EPERM ? "; vgpuvm makes a disk only in a directory root alone can write (such as "
					    "/var/lib/vgpuvm/images); elsewhere make it with qemu-img create"
					  : "");
	dir = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return errmsg(ret_error, negative_errno(), "%s: %m", d);
	/* Anything there, a dangling symlink included, is the user's: left alone. */
	if (fstatat(dir, b, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return errmsg(ret_error, negative_errno(), "%s: %m", file);
	r = qemu_probe_find("qemu-img", &img);
	if (r == -ENOENT)
		return errmsg(ret_error, r,
			      "the disk %s has a \"size\" and does not exist, but qemu-img is not in PATH; install it "
			      "(Debian: apt-get install %s)",
			      file, DISK_MAKE_PACKAGE);
	if (r < 0)
		return r;
	fd = openat(dir, b, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errmsg(ret_error, negative_errno(), "cannot make %s: %m", file);
	snprintf(sz, sizeof(sz), "%" PRIu64, size);
	/* The directory is root's alone: the name taken above stays the file qemu-img writes. */
	r = qemu_probe_run(img, (const char *const[]){ "create", "-q", "-f", format, file, sz, NULL },
			   deadline_after(QEMU_IMG_TIMEOUT), &out);
	if (r != 0) {
		size_t n = out ? strlen(out) : 0;

		while (n > 0 && out[n - 1] == '\n')
			out[--n] = 0;
		(void)unlinkat(dir, b, 0);
		if (r < 0)
			return errmsg(ret_error, r, "qemu-img create %s: %s", file, strerror(-r));
		return errmsg(ret_error, -EIO, "qemu-img create -f %s %s %s failed (exit status %d)%s%s", format, file,
			      sz, r, out && *out ? ": " : "", out ?: "");
	}
	return 1;
}
