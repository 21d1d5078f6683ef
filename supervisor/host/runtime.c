/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/record.h"
#include "supervisor/host/runtime.h"
#include "supervisor/host/trust.h"
#include "util/errmsg.h"
#include "util/fileio.h"
#include "util/macro.h"

int runtime_base(char **ret)
{
	const char *env = getenv("VGPUVM_RUNTIME_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	char *s;

	if (env && *env)
		s = strdup(env);
	else if (geteuid() == 0)
		s = strdup("/run/vgpuvm");
	else if (xdg && xdg[0] == '/') {
		if (asprintf(&s, "%s/vgpuvm", xdg) < 0)
			s = NULL;
	} else
		return -ENXIO;
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static pid_t read_pid(int fd)
{
	char buf[32] = {};
	long pid;

	if (pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return 0;
	pid = strtol(buf, NULL, 10);
	return pid > 0 ? (pid_t)pid : 0;
}

/*
 * The VM's directory below base, made if need be and checked: this user's (or root's), writable by no one else, not
 * a symlink, in a base directory likewise. Returns its fd, or -EPERM with *ret_error saying what is wrong and the fix.
 */
static int open_vm_dir(const char *base, const char *name, char **ret_error)
{
	_cleanup_close_ int bfd = -1;
	struct stat st;
	int r, fd;

	if ((r = mkdir_p(base, 0700)) < 0)
		return r;
	if ((r = trust_path(base, "the runtime directory", ret_error)) < 0)
		return r == -ENOENT ? r : -EPERM;
	bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0 || fstat(bfd, &st) < 0)
		return negative_errno();
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return errmsg(
		    ret_error, -EPERM,
		    "the runtime directory %s is owned by uid %ld with mode %04o; it must be yours and writable "
		    "by no one else (fix: chmod go-w %s, or point VGPUVM_RUNTIME_DIR elsewhere)",
		    base, (long)st.st_uid, (unsigned)(st.st_mode & 07777), base);
	if (mkdirat(bfd, name, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	fd = trust_openat_dir(bfd, name);
	if (fd == -EPERM || fd == -ENOTDIR)
		return errmsg(
		    ret_error, -EPERM,
		    "%s/%s is not a directory that only vgpuvm's user can write (a symlink, another owner, or "
		    "group- or world-writable); vgpuvm will not use it: remove it (rm -r %s/%s) if no vgpuvm "
		    "made it",
		    base, name, base, name);
	return fd;
}

int runtime_acquire(const char *name, struct runtime **ret, pid_t *ret_holder, char **ret_error)
{
	_cleanup_free_ char *base = NULL, *dir = NULL;
	struct runtime *rt;
	char buf[32];
	int r, fd;

	if ((r = runtime_base(&base)) < 0)
		return r;
	if (asprintf(&dir, "%s/%s", base, name) < 0)
		return -ENOMEM;
	/*
	 * The lock file lives in the directory it guards, and the last supervisor deletes both. So after taking the
	 * lock, check that the file is still the one in that directory; if a finishing supervisor removed it in
	 * between, go again with a fresh one.
	 */
	for (int tries = 0;; tries++) {
		_cleanup_close_ int dfd = open_vm_dir(base, name, ret_error);
		struct stat a, b;

		if (dfd < 0)
			return dfd;
		fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return negative_errno();
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			r = negative_errno();
			if (r == -EWOULDBLOCK && ret_holder)
				*ret_holder = read_pid(fd);
			close(fd);
			return r == -EWOULDBLOCK ? -EBUSY : r;
		}
		if (fstat(fd, &a) == 0 && fstatat(dfd, "lock", &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			break;
		close(fd);
		if (tries > 10)
			return -EAGAIN;
	}
	/*
	 * Write, then cut to length: a truncation to 0 makes ext4 flush the file when it is closed (auto_da_alloc),
	 * which would cost the shutdown half a millisecond when the runtime directory is not on tmpfs.
	 */
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (pwrite(fd, buf, strlen(buf), 0) < 0 || ftruncate(fd, (off_t)strlen(buf)) < 0) {
		r = negative_errno();
		close(fd);
		return r;
	}
	rt = calloc(1, sizeof(*rt));
	if (!rt) {
		close(fd);
		return -ENOMEM;
	}
	rt->dir = steal_pointer(&dir);
	rt->lock_fd = fd;
	*ret = rt;
	return 0;
}

/* Removes a directory that holds only files (QEMU's screenshots, before they came in a memfd), without following
 * links. */
static void remove_flat_dir(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

void runtime_release(struct runtime *rt)
{
	_cleanup_free_ char *lock = NULL;

	if (!rt)
		return;
	/* Everything in the directory is this VM's: the control socket (and an older vgpuvm's QEMU directory). The
	 * record stays (see the header). The lock goes last, while still held, so that no one takes a lock on a file
	 * about to go. */
	DIR *d = opendir(rt->dir);
	bool keep = false;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (strcmp(de->d_name, RECORD_FILE) == 0)
				keep = true;
			else if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
				 strcmp(de->d_name, "lock") != 0 && unlinkat(dirfd(d), de->d_name, 0) < 0 &&
				 errno == EISDIR)
				remove_flat_dir(dirfd(d), de->d_name);
		}
		closedir(d);
	}
	if (!keep && asprintf(&lock, "%s/lock", rt->dir) >= 0) {
		unlink(lock);
		rmdir(rt->dir);
	}
	if (rt->lock_fd >= 0)
		close(rt->lock_fd);
	free(rt->dir);
	free(rt);
}
