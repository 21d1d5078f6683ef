/* SPDX-License-Identifier: MIT */
/* Atomic replacement of a small text file, from the directory's fd. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/textfile.h"
#include "supervisor/host/trust.h"
#include "util/errmsg.h"
#include "util/macro.h"

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, data, len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Creates the temporary file; one a crashed earlier run of this pid left behind is removed first. */
static int create_temp(int dfd, const char *tmp)
{
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

int textfile_write(const char *path, const char *data, size_t len, char **ret_error)
{
	_cleanup_free_ char *cwd = NULL, *abs = NULL, *d = NULL, *b = NULL, *tmp = NULL;
	_cleanup_close_ int dfd = -1, fd = -1;
	const char *dir, *base;
	struct stat st;
	int r;

	/* The trust walk judges absolute paths: a relative one is taken from the working directory. */
	if (path[0] != '/') {
		if (!(cwd = get_current_dir_name()))
			return errmsg(ret_error, -errno, "the working directory: %s", strerror(errno));
		if (asprintf(&abs, "%s/%s", cwd, path) < 0)
			return -ENOMEM;
		path = abs;
	}
	d = strdup(path);
	b = strdup(path);
	if (!d || !b)
		return -ENOMEM;
	dir = dirname(d);
	base = basename(b);
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || path[strlen(path) - 1] == '/')
		return errmsg(ret_error, -EINVAL, "%s: not a file name", path);
	r = trust_path(dir, "the textfile's directory", ret_error);
	if (r < 0)
		return r == -ENOENT ? errmsg(ret_error, r, "%s: no such directory", dir) : r;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errmsg(ret_error, -errno, "%s: %s", dir, strerror(errno));
	/* The walk checked the path; the directory itself is checked again as opened, so that it is the one judged. */
	if (fstat(dfd, &st) < 0)
		return errmsg(ret_error, -errno, "%s: %s", dir, strerror(errno));
	if (trust_is_root() && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))))
		return errmsg(
		    ret_error, -EPERM,
		    "%s: not root's alone (owner uid %ld, mode %04o); as root, vgpuvm writes only into "
		    "directories that root owns and no one else can write (fix: chown root: and chmod go-w it)",
		    dir, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
	if (asprintf(&tmp, ".%s.%ld.tmp", base, (long)getpid()) < 0)
		return -ENOMEM;
	fd = create_temp(dfd, tmp);
	if (fd < 0)
		return errmsg(ret_error, fd, "%s/%s: %s", dir, tmp, strerror(-fd));
	/* 0644 whatever the umask: the reader (node_exporter) runs as a user of its own. */
	if ((r = write_all(fd, data, len)) < 0 || (fchmod(fd, 0644) < 0 && (r = -errno)) ||
	    (fsync(fd) < 0 && (r = -errno)) || (close(TAKE_FD(fd)) < 0 && (r = -errno))) {
		unlinkat(dfd, tmp, 0);
		return errmsg(ret_error, r, "%s/%s: %s", dir, tmp, strerror(-r));
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		r = -errno;
		unlinkat(dfd, tmp, 0);
		return errmsg(ret_error, r, "%s: %s", path, strerror(-r));
	}
	/* The rename itself is made durable too, or a crash could bring back the old file. */
	if (fsync(dfd) < 0)
		return errmsg(ret_error, -errno, "%s: %s", dir, strerror(errno));
	return 0;
}
