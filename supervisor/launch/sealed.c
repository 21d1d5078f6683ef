/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/trust.h"
#include "supervisor/launch/sealed.h"
#include "util/errmsg.h"
#include "util/macro.h"

/* A kernel is a few MiB and an initrd some tens; a lab rig's largest is far below this. */
#define SEALED_SIZE_MAX (UINT64_C(4) << 30)

int sealed_copy(const char *path, const char *what, char **ret_error)
{
	_cleanup_close_ int fd = -1, memfd = -1;
	_cleanup_free_ char *error = NULL;
	char name[64];
	struct stat st;
	off_t off = 0;

	fd = trust_open_image(path, O_RDONLY, &error);
	if (fd < 0)
		return errmsg(ret_error, fd, "%s", error ?: strerror(-fd));
	if (fstat(fd, &st) < 0)
		return errmsg(ret_error, negative_errno(), "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return errmsg(ret_error, -EPERM, "not a regular file");
	if ((uint64_t)st.st_size > SEALED_SIZE_MAX)
		return errmsg(ret_error, -EFBIG, "larger than 4 GiB");
	snprintf(name, sizeof(name), "vgpuvm-%s", what);
	memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0)
		return errmsg(ret_error, negative_errno(), "cannot make a memfd: %s", strerror(errno));
	while (off < st.st_size) {
		ssize_t n = sendfile(memfd, fd, &off, (size_t)(st.st_size - off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errmsg(ret_error, negative_errno(), "cannot copy it: %s", strerror(errno));
		if (n == 0)
			return errmsg(ret_error, -EIO, "it shrank while it was copied");
	}
	/* Readable by QEMU's user through /proc/self/fd; unchangeable by anyone. */
	if (fchmod(memfd, 0444) < 0 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return errmsg(ret_error, negative_errno(), "cannot seal its copy: %s", strerror(errno));
	return TAKE_FD(memfd);
}
