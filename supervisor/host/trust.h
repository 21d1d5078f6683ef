/* SPDX-License-Identifier: MIT */
/*
 * What root may trust: a file or directory that only root (or the caller itself) can change, all the way from /, as
 * sshd's StrictModes and sudo check. vgpuvm runs as root to make mdevs and lend files; a profile, a runtime directory
 * or a test root that someone else can write would hand that someone root's authority.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Whether vgpuvm acts with root's authority (real or effective uid 0): then the checks below apply. */
bool trust_is_root(void);

/*
 * Checks that path, after resolving symlinks that only trusted owners could have made, is owned by root (or by the
 * caller, when the caller is not root) and writable by no one else, and that so is every directory above it. A
 * root-owned sticky directory (/tmp) counts as safe for what root owns inside it. Returns 0, -ENOENT when the path
 * does not exist, or -EPERM with *ret_error naming the file that fails, why, and the fix. what names the path in the
 * message ("profile", "VGPUVM_RUNTIME_DIR").
 */
int trust_path(const char *path, const char *what, char **ret_error);

/*
 * The same check of a directory reached from a trusted directory fd without following symlinks: opens name below
 * dir_fd (O_DIRECTORY|O_NOFOLLOW) and returns its fd, or -ENOENT, -ENOTDIR (a symlink or not a directory), or -EPERM
 * when it is not the caller's (or root's) or others can write it.
 */
int trust_openat_dir(int dir_fd, const char *name);

/* Checks the paths that environment variables redirect (VGPUVM_*_ROOT, VGPUVM_RUNTIME_DIR, VGPUVM_PASSWD, ...)
 * before root uses any of them. Returns 0 or -EPERM with *ret_error naming the variable and the fix. */
int trust_environment(char **ret_error);

/*
 * Opens a disk image (or ISO, kernel) that QEMU is to get as an open fd, with flags (O_RDONLY or O_RDWR). The last
 * component is opened without following a symlink, from its directory's fd. It must be a regular file, or a block
 * device in directories only root can write; in a directory someone else can write, a file that root owns is refused
 * (a hard link planted there would hand QEMU a root file). Returns the fd, or a negative errno with *ret_error.
 */
int trust_open_image(const char *path, int flags, char **ret_error);

/*
 * Opens a directory to share with the guest (a profile's "shares"), O_PATH, reached as trust_open_image() reaches an
 * image: a symlink is followed only in a directory root alone can write. The directory is the user's data and may be
 * anyone's; but in a directory someone other than root can write, one of root's is refused (it got there by a rename
 * root did not make). Returns the fd, or a negative errno with *ret_error (-EPERM: not to be trusted, -ENOTDIR).
 */
int trust_open_share(const char *path, char **ret_error);
