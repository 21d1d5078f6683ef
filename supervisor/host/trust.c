/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/trust.h"
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

/* How many symlinks a walk follows before it gives up, as the kernel's ELOOP. */
#define WALK_LINKS_MAX 40
#define WALK_DEPTH_MAX 128

struct walk {
	int fd;		   /* O_PATH fd of what the path names */
	bool trusted;	   /* every directory on the way is root's alone (for an ordinary caller: its own or root's) */
	bool last_trusted; /* and so is what the path names */
	struct stat st;	   /* of what the path names */
	char why[PATH_MAX + 128]; /* the first thing that is not, and where */
};

static void walk_distrust(struct walk *w, const char *where, const char *what)
{
	if (w->trusted)
		snprintf(w->why, sizeof(w->why), "%s %s", where, what);
	w->trusted = false;
}

/* Whether the directory dir_fd is sticky and others can write it. */
static bool sticky_open(int dir_fd)
{
	struct stat st;

	return fstat(dir_fd, &st) == 0 && (st.st_mode & S_ISVTX) && (st.st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * Resolves path as the kernel would, one component at a time from an fd, with O_NOFOLLOW, so that what is checked is
 * what is used: no directory can be swapped for a symlink between the two. A symlink is followed only when the
 * directory it is in can be trusted, since whoever can write that directory chooses where it points; any other
 * symlink ends the walk with -EPERM. Returns 0 with w filled, -ENOENT, or another negative errno.
 */
static int walk(const char *path, struct walk *w)
{
	_cleanup_free_ char *todo = NULL;
	int stack[WALK_DEPTH_MAX];
	bool trust[WALK_DEPTH_MAX];
	char where[PATH_MAX] = "";
	size_t depth = 0, links = 0;
	char why[96];
	const char *bad;
	int r = 0;

	*w = (struct walk){ .fd = -1, .trusted = true };
	if (path[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) || asprintf(&todo, "%s/%s", cwd, path) < 0)
			return -ENOMEM;
	} else if (!(todo = strdup(path)))
		return -ENOMEM;
	stack[0] = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (stack[0] < 0 || fstat(stack[0], &w->st) < 0)
		return negative_errno();
	trust[0] = !(bad = untrusted_why(&w->st, false, why, sizeof(why)));
	if (bad)
		walk_distrust(w, "/", bad);
	for (char *rest = todo; r == 0;) {
		char *comp, *next_rest, target[PATH_MAX];
		struct stat st;
		int fd;
		ssize_t n;

		while (*rest == '/')
			rest++;
		if (!*rest)
			break;
		comp = rest;
		next_rest = rest + strcspn(rest, "/");
		if (*next_rest)
			*next_rest++ = 0;
		rest = next_rest;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (depth > 0) {
				close(stack[depth--]);
				*strrchr(where, '/') = 0;
			}
			continue;
		}
		fd = openat(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			r = negative_errno();
			safe_close(fd);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			_cleanup_free_ char *spliced = NULL;

			n = readlinkat(fd, "", target, sizeof(target) - 1);
			close(fd);
			if (n < 0) {
				r = negative_errno();
				break;
			}
			target[n] = 0;
			if (++links > WALK_LINKS_MAX) {
				r = -ELOOP;
				break;
			}
			if (!trust[depth]) {
				snprintf(w->why, sizeof(w->why),
					 "%s/%s is a symbolic link in a directory that someone else can "
					 "write, which vgpuvm will not follow",
					 where, comp);
				r = -EPERM;
				break;
			}
			/* A sticky directory others can write (/tmp) is trusted for what root made in it, not for
			 * another user's link there: the kernel's protected_symlinks rule. */
			if (!owner_trusted(st.st_uid) && sticky_open(stack[depth])) {
				snprintf(w->why, sizeof(w->why),
					 "%s/%s is a symbolic link of uid %ld in a sticky directory that others can "
					 "write, which vgpuvm will not follow",
					 where, comp, (long)st.st_uid);
				r = -EPERM;
				break;
			}
			/* The rest of the path now goes on from where the link points. */
			if (asprintf(&spliced, "%s/%s", target, rest) < 0) {
				r = -ENOMEM;
				break;
			}
			if (target[0] == '/')
				while (depth > 0) {
					close(stack[depth--]);
					where[0] = 0;
				}
			free(todo);
			todo = steal_pointer(&spliced);
			rest = todo;
			continue;
		}
		if (depth + 1 >= WALK_DEPTH_MAX || strlen(where) + strlen(comp) + 2 > sizeof(where)) {
			close(fd);
			r = -ENAMETOOLONG;
			break;
		}
		strcat(strcat(where, "/"), comp);
		stack[++depth] = fd;
		w->st = st;
		bad = untrusted_why(&st, true, why, sizeof(why));
		/* A directory is trusted for what is below it; what the path names is judged by the caller's rules. */
		trust[depth] = trust[depth - 1] && !bad;
		if (*rest && bad)
			walk_distrust(w, where, bad);
		if (!*rest)
			w->last_trusted = !bad;
		if (!*rest && bad)
			snprintf(w->why, sizeof(w->why), "%s %s", where, bad);
		if (*rest && !S_ISDIR(st.st_mode)) {
			r = -ENOTDIR;
			break;
		}
	}
	if (r == 0 && depth == 0)
		w->last_trusted = trust[0];
	if (r == 0)
		w->fd = stack[depth];
	else
		close(stack[depth]);
	for (size_t i = 0; i < depth; i++)
		close(stack[i]);
	return r;
}

int trust_path(const char *path, const char *what, char **ret_error)
{
	struct walk w;
	int r;

	if (!trust_is_root())
		return 0;
	r = walk(path, &w);
	safe_close(w.fd);
	if (r == -EPERM || (r == 0 && (!w.trusted || !w.last_trusted)))
		return errmsg(
		    ret_error, -EPERM,
		    "%s %s: %s; as root, vgpuvm uses only what root owns and no one else can write, in "
		    "directories likewise (fix: chown root: and chmod go-w what is named, or move it to a place "
		    "root owns, such as /etc/vgpuvm/profiles for a profile)",
		    what, path, w.why);
	if (r < 0 && r != -ENOENT)
		return errmsg(ret_error, r, "%s %s: %s", what, path, strerror(-r));
	return r;
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
	_cleanup_close_ int fd = -1;
	struct walk w;
	struct stat st;
	char proc[64];
	bool trusted;
	int r;

	r = walk(path, &w);
	if (r == -EPERM)
		return errmsg(ret_error, r, "%s", w.why);
	if (r < 0)
		return errmsg(ret_error, r, "%s", strerror(-r));
	/* Whether the directories on the way are root's alone: if not, whoever can write one chooses the file. */
	trusted = !trust_is_root() || w.trusted;
	/* Opened again with its access mode through the fd: the same inode the walk checked, by no path. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w.fd);
	fd = S_ISREG(w.st.st_mode) || S_ISBLK(w.st.st_mode) ? open(proc, flags | O_NOCTTY | O_CLOEXEC) : -1;
	safe_close(w.fd);
	if (!S_ISREG(w.st.st_mode) && !(trusted && S_ISBLK(w.st.st_mode)))
		return errmsg(ret_error, -EPERM, "not a regular file%s",
			      trusted ? " or a block device"
				      : " (in a directory that someone other than root can write)");
	if (fd < 0)
		return errmsg(ret_error, negative_errno(), "%s", strerror(errno));
	if (fstat(fd, &st) < 0)
		return negative_errno();
	/*
	 * In a directory someone else can write, a file of root's got there by a hard link or a rename that root did
	 * not make: its owner is the only one whose file it can be.
	 */
	if (!trusted && st.st_uid == 0)
		return errmsg(
		    ret_error, -EPERM,
		    "it is root's, in a directory that someone other than root can write (%s); vgpuvm will not "
		    "hand it to QEMU (fix: move it to a directory root owns, such as /var/lib/vgpuvm, or chown it "
		    "to the user whose directory it is in)",
		    w.why);
	return TAKE_FD(fd);
}

int trust_open_share(const char *path, char **ret_error)
{
	_cleanup_close_ int fd = -1;
	struct walk w;
	bool trusted;
	int r;

	r = walk(path, &w);
	if (r == -EPERM)
		return errmsg(ret_error, r, "%s", w.why);
	if (r < 0)
		return errmsg(ret_error, r, "%s", strerror(-r));
	fd = w.fd;
	trusted = !trust_is_root() || w.trusted;
	if (!S_ISDIR(w.st.st_mode))
		return errmsg(ret_error, -ENOTDIR, "not a directory");
	if (!trusted && w.st.st_uid == 0)
		return errmsg(ret_error, -EPERM,
			      "it is root's, in a directory that someone other than root can write (%s); vgpuvm will "
			      "not share it (fix: move it to a directory root owns, or chown it to the user whose "
			      "directory it is in)",
			      w.why);
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
		"VGPUVM_SYSFS_ROOT",   "VGPUVM_PROC_ROOT",   "VGPUVM_DEV_ROOT",	  "VGPUVM_RUNTIME_DIR",
		"VGPUVM_STATE_DIR",    "VGPUVM_PASSWD_FILE", "VGPUVM_GROUP_FILE", "VGPUVM_MDEVCTL_DIR",
		"VGPUVM_FIRMWARE_DIR", "VGPUVM_VIRTIOFSD",
	};
	int r;

	if (!trust_is_root())
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
		const char *v = getenv(vars[i]);

		if (!v || !*v)
			continue;
		if (v[0] != '/')
			return errmsg(ret_error, -EPERM,
				      "%s=%s: as root, vgpuvm takes only an absolute path here; unset it "
				      "or give one",
				      vars[i], v);
		r = trust_existing(v, vars[i], ret_error);
		if (r < 0)
			return r == -EPERM ? r : errmsg(ret_error, -EPERM, "%s=%s: %s", vars[i], v, strerror(-r));
	}
	return 0;
}
