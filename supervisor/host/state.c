/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/state.h"
#include "supervisor/host/trust.h"
#include "util/errmsg.h"
#include "util/fileio.h"
#include "util/macro.h"

/* The state holds a directory or two (the TPM's, its certificates' CA); deeper is not vgpuvm's. */
#define STATE_DEPTH_MAX 4

int state_base(char **ret)
{
	const char *env = getenv("VGPUVM_STATE_DIR"), *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *s = NULL;

	if (env && *env)
		s = strdup(env);
	else if (geteuid() == 0)
		s = strdup("/var/lib/vgpuvm");
	else if (xdg && xdg[0] == '/') {
		if (asprintf(&s, "%s/vgpuvm", xdg) < 0)
			s = NULL;
	} else if (home && home[0] == '/') {
		if (asprintf(&s, "%s/.local/state/vgpuvm", home) < 0)
			s = NULL;
	} else
		return -ENXIO;
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int state_path(const char *name, char **ret)
{
	_cleanup_free_ char *base = NULL;
	int r = state_base(&base);

	if (r < 0)
		return r;
	return asprintf(ret, "%s/%s", base, name) < 0 ? -ENOMEM : 0;
}

/* The base, made when need be and checked: as root, root's and writable by no one else, all the way from /. */
static int open_base(char **ret_path, char **ret_error)
{
	_cleanup_free_ char *base = NULL;
	int r, fd;

	if ((r = state_base(&base)) < 0)
		return r == -ENXIO ? errmsg(ret_error, r,
					    "no state directory: neither XDG_STATE_HOME nor HOME is set; set "
					    "one, or VGPUVM_STATE_DIR")
				   : r;
	/* Root's base is 0755, so that QEMU's user can reach its own VM's directory; a user's is the user's alone. */
	if ((r = mkdir_p(base, geteuid() == 0 ? 0755 : 0700)) < 0)
		return errmsg(ret_error, r, "cannot make the state directory %s: %s", base, strerror(-r));
	if ((r = trust_path(base, "the state directory", ret_error)) < 0)
		return r;
	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errmsg(ret_error, negative_errno(), "cannot open the state directory %s: %m", base);
	if (ret_path)
		*ret_path = steal_pointer(&base);
	return fd;
}

/*
 * Gives dir_fd and everything below it to uid:gid, following no link. A regular file with another link is refused:
 * root would be giving away a file that is also somewhere else.
 */
static int chown_tree(int dir_fd, uid_t uid, gid_t gid, unsigned depth, char **ret_bad)
{
	int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3), r = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		safe_close(fd);
		return negative_errno();
	}
	while (r == 0 && (de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = negative_errno();
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = -1;

			if (depth >= STATE_DEPTH_MAX)
				r = -ELOOP;
			else if ((sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
				 0)
				r = negative_errno();
			else
				r = chown_tree(sub, uid, gid, depth + 1, ret_bad);
		} else if (S_ISREG(st.st_mode) && st.st_nlink > 1)
			r = -EMLINK;
		if (r == 0 && (st.st_uid != uid || st.st_gid != gid) &&
		    fchownat(dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			r = negative_errno();
		if (r < 0 && ret_bad && !*ret_bad)
			*ret_bad = strdup(de->d_name);
	}
	closedir(d);
	if (r == 0 && fchown(dir_fd, uid, gid) < 0)
		r = negative_errno();
	return r;
}

int state_open(const char *name, uid_t uid, gid_t gid, uid_t *ret_previous_uid, char **ret_error)
{
	_cleanup_free_ char *base = NULL, *bad = NULL;
	_cleanup_close_ int bfd = -1, fd = -1;
	struct stat st;
	int r;

	bfd = open_base(&base, ret_error);
	if (bfd < 0)
		return bfd;
	if (mkdirat(bfd, name, 0700) < 0 && errno != EEXIST)
		return errmsg(ret_error, negative_errno(), "cannot make the state directory %s/%s: %m", base, name);
	fd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return errmsg(ret_error, -EPERM,
			      "%s/%s is not a directory (a symlink, or another kind of file); vgpuvm "
			      "keeps a VM's state only in a directory it made: move it away",
			      base, name);
	if (fd < 0 || fstat(fd, &st) < 0)
		return errmsg(ret_error, negative_errno(), "cannot open the state directory %s/%s: %m", base, name);
	/* Only root (or this user) can make entries in the base: whoever owns NAME now was given it by vgpuvm. */
	if (st.st_uid != uid || st.st_gid != gid || (st.st_mode & 07777) != 0700) {
		if (geteuid() != 0 && st.st_uid != geteuid())
			return errmsg(ret_error, -EPERM, "the state directory %s/%s is owned by uid %ld, not you", base,
				      name, (long)st.st_uid);
		r = chown_tree(fd, uid, gid, 0, &bad);
		if (r == -EMLINK)
			return errmsg(ret_error, -EPERM,
				      "%s/%s/%s has other hard links; vgpuvm gives QEMU's user nothing "
				      "that is also elsewhere: remove it",
				      base, name, bad ?: "?");
		if (r < 0)
			return errmsg(ret_error, r, "cannot give the state directory %s/%s to uid %ld: %s (at %s)",
				      base, name, (long)uid, strerror(-r), bad ?: ".");
		if (fchmod(fd, 0700) < 0)
			return errmsg(ret_error, negative_errno(), "cannot chmod the state directory %s/%s: %m", base,
				      name);
	}
	if (ret_previous_uid)
		*ret_previous_uid = st.st_uid == 0 && uid != 0 ? uid : st.st_uid;
	return TAKE_FD(fd);
}

int state_open_file(int dir_fd, const char *name, int flags, uid_t uid)
{
	_cleanup_close_ int fd = openat(dir_fd, name, flags | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return errno == ELOOP ? -EPERM : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != uid)
		return -EPERM;
	/* QEMU's block layer expects a blocking fd. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

bool state_has(int dir_fd, const char *name)
{
	struct stat st;

	return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Writes len bytes from buf, or copies from src_fd when buf is NULL, into a new file that becomes name. */
static int write_new(int dir_fd, const char *name, int src_fd, const char *buf, size_t len, uid_t uid, gid_t gid,
		     bool replace)
{
	char tmp[300];
	_cleanup_close_ int fd = -1;
	int r = 0;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlinkat(dir_fd, tmp, 0);
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	if (buf) {
		if (write(fd, buf, len) != (ssize_t)len)
			r = negative_errno();
	} else {
		char chunk[65536];
		ssize_t n;

		if (lseek(src_fd, 0, SEEK_SET) < 0)
			r = negative_errno();
		while (r == 0 && (n = read(src_fd, chunk, sizeof(chunk))) != 0) {
			if (n < 0 || write(fd, chunk, (size_t)n) != n)
				r = negative_errno();
		}
	}
	if (r == 0 && (fchown(fd, uid, gid) < 0 || fsync(fd) < 0))
		r = negative_errno();
	/* Without replacing, a file that appeared meanwhile wins: it is the VM's. */
	if (r == 0 && (replace ? renameat(dir_fd, tmp, dir_fd, name)
			       : renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE)) < 0)
		r = errno == EEXIST ? 0 : negative_errno();
	unlinkat(dir_fd, tmp, 0);
	return r;
}

int state_copy_in(int dir_fd, const char *name, int src_fd, uid_t uid, gid_t gid)
{
	int r;

	if (state_has(dir_fd, name))
		return 0;
	r = write_new(dir_fd, name, src_fd, NULL, 0, uid, gid, false);
	return r < 0 ? r : 1;
}

int state_write_file(int dir_fd, const char *name, const char *text, uid_t uid, gid_t gid)
{
	return write_new(dir_fd, name, -1, text, strlen(text), uid, gid, true);
}

int state_subdir(int dir_fd, const char *name, uid_t uid, gid_t gid)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (mkdirat(dir_fd, name, 0700) == 0 && fchownat(dir_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return negative_errno();
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP || errno == ENOTDIR ? -EPERM : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_uid != uid)
		return -EPERM;
	return TAKE_FD(fd);
}

/* Removes everything below dir_fd, following no link. */
static int remove_tree(int dir_fd, unsigned depth)
{
	int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3), r = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		safe_close(fd);
		return negative_errno();
	}
	while (r == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			r = negative_errno();
			break;
		}
		/* A directory: emptied through an fd that cannot have been swapped for a link, then removed. */
		_cleanup_close_ int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 || depth >= STATE_DEPTH_MAX * 2)
			r = sub < 0 ? negative_errno() : -ELOOP;
		else if ((r = remove_tree(sub, depth + 1)) == 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
			r = negative_errno();
	}
	closedir(d);
	return r;
}

int state_remove(const char *name, char **ret_error)
{
	_cleanup_free_ char *base = NULL;
	_cleanup_close_ int bfd = -1, fd = -1;
	int r;

	if ((r = state_base(&base)) < 0)
		return errmsg(ret_error, r, "no state directory: neither XDG_STATE_HOME nor HOME is set");
	if ((r = trust_path(base, "the state directory", ret_error)) < 0)
		return r == -ENOENT ? 0 : r;
	bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		return errno == ENOENT ? 0 : errmsg(ret_error, negative_errno(), "cannot open %s: %m", base);
	fd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return errmsg(ret_error, errno == ELOOP || errno == ENOTDIR ? -EPERM : negative_errno(),
			      "%s/%s is not a state directory vgpuvm made (%m); left as it is", base, name);
	if ((r = remove_tree(fd, 0)) < 0 || (unlinkat(bfd, name, AT_REMOVEDIR) < 0 && (r = negative_errno()) < 0))
		return errmsg(ret_error, r, "cannot remove %s/%s: %s", base, name, strerror(-r));
	return 1;
}
