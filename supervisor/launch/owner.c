/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "supervisor/launch/identity.h"
#include "supervisor/launch/owner.h"
#include "util/macro.h"

/* The kernel's fixed major for DRM (include/drm/drm.h, DRM_MAJOR); render nodes are its minors 128 to 255. */
#define DRM_MAJOR 226
#define DRM_RENDER_MINOR_FIRST 128

static bool mode_allows(const struct stat *st, const struct identity *id)
{
	if (st->st_uid == id->uid)
		return (st->st_mode & (S_IRUSR | S_IWUSR)) == (S_IRUSR | S_IWUSR);
	if (identity_in_group(id, st->st_gid))
		return (st->st_mode & (S_IRGRP | S_IWGRP)) == (S_IRGRP | S_IWGRP);
	return (st->st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH);
}

/*
 * A VFIO group's node is a device of the "vfio" class: sysfs links /sys/dev/char/MAJ:MIN to .../vfio/N. Its major is
 * given out at boot, so the class is what tells it apart from any other character device.
 */
static bool is_vfio(const char *sysfs_root, dev_t rdev)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *s;
	ssize_t n;

	snprintf(link, sizeof(link), "%s/dev/char/%u:%u", sysfs_root, major(rdev), minor(rdev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	s = strrchr(target, '/');
	if (!s || s - target < 5)
		return false;
	return strncmp(s - 5, "/vfio/", 6) == 0;
}

static bool is_kind(enum owned_kind kind, const char *sysfs_root, const struct stat *st)
{
	if (!S_ISCHR(st->st_mode))
		return false;
	switch (kind) {
	case OWNED_VFIO:
		return is_vfio(sysfs_root, st->st_rdev);
	case OWNED_DRM:
		return major(st->st_rdev) == DRM_MAJOR && minor(st->st_rdev) >= DRM_RENDER_MINOR_FIRST;
	default:
		return false;
	}
}

int owner_check(const char *path, enum owned_kind kind, const char *sysfs_root, const struct identity *id,
		struct owned *ret)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (strlen(path) >= sizeof(ret->path))
		return -ENAMETOOLONG;
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	*ret = (struct owned){
		.kind = kind, .rdev = st.st_rdev, .uid = st.st_uid, .gid = st.st_gid, .mode = st.st_mode & 07777
	};
	snprintf(ret->path, sizeof(ret->path), "%s", path);
	if (!is_kind(kind, sysfs_root, &st))
		return -ENODEV;
	return mode_allows(&st, id) ? 0 : 1;
}

/* The file at o->path, if it is still the device o names: an O_PATH fd, -ENOENT, or -ESTALE. */
static int open_same(const struct owned *o)
{
	_cleanup_close_ int fd = open(o->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISCHR(st.st_mode) || st.st_rdev != o->rdev)
		return -ESTALE;
	return TAKE_FD(fd);
}

int owner_lend(const struct owned *o, const struct identity *id)
{
	_cleanup_close_ int fd = open_same(o);

	if (fd < 0)
		return fd;
	return fchownat(fd, "", id->uid, (gid_t)-1, AT_EMPTY_PATH) < 0 ? negative_errno() : 0;
}

int owner_return(const struct owned *o)
{
	_cleanup_close_ int fd = open_same(o);
	char proc[64];

	if (fd == -ENOENT)
		return 0;
	if (fd == -ESTALE)
		return 1;
	if (fd < 0)
		return fd;
	if (fchownat(fd, "", o->uid, o->gid, AT_EMPTY_PATH) < 0)
		return negative_errno();
	/* An O_PATH fd takes no fchmod; its /proc/self/fd link is the same inode, reached without the path. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return chmod(proc, o->mode) < 0 ? negative_errno() : 0;
}
