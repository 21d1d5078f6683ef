/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/trust.h"
#include "util/errmsg.h"
#include "util/macro.h"

bool trust_is_root(void)
{
	return getuid() == 0 || geteuid() == 0;
}

/* Root trusts only root; an ordinary caller trusts root and itself. */
static bool owner_trusted(uid_t uid)
{
	return uid == 0 || (!trust_is_root() && uid == geteuid());
}

/*
 * Why st (at path) cannot be trusted, or NULL when it can. A directory that others may write is safe only when it is
 * sticky (/tmp): then only its owner, root, can replace what root made there, and the next component is checked too.
 */
static const char *untrusted_why(const struct stat *st, bool last, char *buf, size_t size)
{
	if (!owner_trusted(st->st_uid)) {
		snprintf(buf, size, "is owned by uid %ld", (long)st->st_uid);
		return buf;
	}
	if (S_ISLNK(st->st_mode))
		return "is a symbolic link that appeared while it was checked";
	if (!last && !S_ISDIR(st->st_mode))
		return "is not a directory";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))) {
		snprintf(buf, size, "is writable by %s (mode %04o)", st->st_mode & S_IWOTH ? "everyone" : "its group",
			 (unsigned)(st->st_mode & 07777));
		return buf;
	}
	return NULL;
}

int trust_path(const char *path, const char *what, char **ret_error)
{
	_cleanup_free_ char *real = NULL, *sofar = NULL;
	_cleanup_close_ int fd = -1;
	char why[64], *save = NULL, *comp;
	struct stat st;
	const char *bad;
	size_t len = 0;

	if (!trust_is_root())
		return 0;
	/* Symlinks are resolved first; the walk below then follows none, so that what is checked is what is used. */
	real = realpath(path, NULL);
	if (!real)
		return errno == ENOENT ? -ENOENT : errmsg(ret_error, negative_errno(), "%s %s: %s", what, path, strerror(errno));
	sofar = calloc(1, strlen(real) + 2);
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (!sofar || fd < 0 || fstat(fd, &st) < 0)
		return sofar ? negative_errno() : -ENOMEM;
	strcpy(sofar, "/");
	bad = untrusted_why(&st, strcmp(real, "/") == 0, why, sizeof(why));
	for (comp = strtok_r(real + 1, "/", &save); !bad && comp; comp = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);

		if (next < 0)
			return negative_errno();
		close(fd);
		fd = next;
		if (fstat(fd, &st) < 0)
			return negative_errno();
		len += (size_t)sprintf(sofar + len, "/%s", comp);
		bad = untrusted_why(&st, !save || !*save, why, sizeof(why));
	}
	if (bad)
		return errmsg(ret_error, -EPERM,
			      "%s %s: %s %s; as root, vgpuvm uses only what root owns and no one else can write, in "
			      "directories likewise (fix: chown root: %s && chmod go-w %s, or move it to a place root owns, "
			      "such as /etc/vgpuvm/profiles for a profile)",
			      what, path, sofar, bad, sofar, sofar);
	return 0;
}

int trust_openat_dir(int dir_fd, const char *name)
{
	_cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return errno == ELOOP ? -ENOTDIR : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	return TAKE_FD(fd);
}

int trust_open_image(const char *path, int flags, char **ret_error)
{
	_cleanup_free_ char *real = NULL, *dir = NULL;
	_cleanup_close_ int dfd = -1, fd = -1;
	char *last;
	struct stat st;
	bool trusted = true;

	real = realpath(path, NULL);
	if (!real)
		return errmsg(ret_error, negative_errno(), "%s: %s", path, strerror(errno));
	last = strrchr(real, '/');
	dir = last == real ? strdup("/") : strndup(real, (size_t)(last - real));
	if (!dir)
		return -ENOMEM;
	last++;
	/* Whether the directories on the way are root's alone: if not, whoever can write one chooses the file. */
	if (trust_is_root()) {
		_cleanup_free_ char *error = NULL;

		trusted = trust_path(dir, "", &error) == 0;
	}
	/* Down from /, following no symlink: a directory swapped for one after realpath() is refused, not followed. */
	dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (char *save = NULL, *c = strtok_r(dir, "/", &save); dfd >= 0 && c; c = strtok_r(NULL, "/", &save)) {
		int next = openat(dfd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		close(dfd);
		dfd = next;
	}
	if (dfd < 0)
		return errmsg(ret_error, negative_errno(), "%s: %s", path, strerror(errno));
	fd = openat(dfd, last, flags | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errmsg(ret_error, negative_errno(), "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) && !(trusted && S_ISBLK(st.st_mode)))
		return errmsg(ret_error, -EPERM, "%s is not a regular file%s", path,
			      trusted ? " or a block device" : " (in a directory that someone other than root can write)");
	/*
	 * In a directory someone else can write, a file of root's got there by a hard link or a rename that root did
	 * not make: its owner is the only one whose file it can be.
	 */
	if (!trusted && st.st_uid == 0)
		return errmsg(ret_error, -EPERM,
			      "%s is root's, in a directory that someone other than root can write; vgpuvm will not hand "
			      "it to QEMU (fix: move it to a directory root owns, such as /var/lib/vgpuvm, or chown it to "
			      "the user whose directory it is in)",
			      path);
	return TAKE_FD(fd);
}

/* The nearest part of path that exists: a directory vgpuvm is to create is as safe as the one it goes in. */
static int trust_existing(const char *path, const char *what, char **ret_error)
{
	_cleanup_free_ char *p = strdup(path);
	int r;

	if (!p)
		return -ENOMEM;
	for (;;) {
		char *slash;

		r = trust_path(p, what, ret_error);
		if (r != -ENOENT)
			return r;
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			return trust_path("/", what, ret_error);
		*slash = 0;
	}
}

int trust_environment(char **ret_error)
{
	static const char *const vars[] = {
		"VGPUVM_SYSFS_ROOT", "VGPUVM_PROC_ROOT",  "VGPUVM_DEV_ROOT",	 "VGPUVM_RUNTIME_DIR",
		"VGPUVM_STATE_DIR",  "VGPUVM_PASSWD_FILE", "VGPUVM_GROUP_FILE",
	};
	int r;

	if (!trust_is_root())
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
		const char *v = getenv(vars[i]);

		if (!v || !*v)
			continue;
		if (v[0] != '/')
			return errmsg(ret_error, -EPERM, "%s=%s: as root, vgpuvm takes only an absolute path here; unset it "
				      "or give one", vars[i], v);
		r = trust_existing(v, vars[i], ret_error);
		if (r < 0)
			return r == -EPERM ? r : errmsg(ret_error, -EPERM, "%s=%s: %s", vars[i], v, strerror(-r));
	}
	return 0;
}
