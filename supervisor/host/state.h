/* SPDX-License-Identifier: MIT */
/*
 * A VM's state directory: what it keeps between runs (the UEFI NVRAM, the TPM's state). /var/lib/vgpuvm/NAME as root,
 * $XDG_STATE_HOME/vgpuvm/NAME otherwise ($VGPUVM_STATE_DIR replaces the .../vgpuvm part). Mode 0700, owned by QEMU's
 * user, whose helpers write in it. Root works in it only from fds, never following a link, and hands QEMU only
 * regular files of one link that QEMU's user owns: whatever QEMU's user put there cannot make root touch anything
 * else. `cleanup` never touches it; `vgpuvm forget` removes it.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* The directory that holds every VM's state directory. */
int state_base(char **ret);

/* base/NAME, as a new string. */
int state_path(const char *name, char **ret);

/*
 * Opens the VM's state directory, making it (and the base) when need be, and makes it and everything in it owned by
 * uid:gid (QEMU's user for this run; with a dynamic uid it may differ from the last run's). *ret_previous_uid gets
 * the owner it had (uid itself when it was new). Returns the directory's fd, or -EPERM with *ret_error when the base
 * cannot be trusted, the directory is a symlink or not a directory, or something in it is a hard link.
 */
int state_open(const char *name, uid_t uid, gid_t gid, uid_t *ret_previous_uid, char **ret_error);

/*
 * Opens the regular file name in the state directory dir_fd with flags (O_RDONLY or O_RDWR): not a symlink, one link,
 * owned by uid. -ENOENT when it is not there, -EPERM when it is something else.
 */
int state_open_file(int dir_fd, const char *name, int flags, uid_t uid);

/*
 * Copies src_fd's content into the state directory as name, owned by uid:gid with mode 0600, unless name exists:
 * written under a temporary name and renamed, so that a file of that name is always whole. Returns 1 when it made the
 * file, 0 when it was there already.
 */
int state_copy_in(int dir_fd, const char *name, int src_fd, uid_t uid, gid_t gid);

/* Writes text into the state directory as name (replacing it), owned by uid:gid, mode 0600. */
int state_write_file(int dir_fd, const char *name, const char *text, uid_t uid, gid_t gid);

/* Opens the subdirectory name of the state directory, made with mode 0700 and owned by uid:gid when it is not there. */
int state_subdir(int dir_fd, const char *name, uid_t uid, gid_t gid);

/* Whether the state directory dir_fd has an entry name (not followed). */
bool state_has(int dir_fd, const char *name);

/*
 * Removes the VM's state directory and everything in it, following no link. Returns 1 when it removed it, 0 when there
 * was none, or a negative errno with *ret_error.
 */
int state_remove(const char *name, char **ret_error);
