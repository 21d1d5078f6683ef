/* SPDX-License-Identifier: MIT */
/* The runtime directory of one VM, and the lock that makes its supervisor the only one. */
#pragma once

#include <sys/types.h>

struct runtime {
	char *dir;   /* /run/vgpuvm/NAME, $XDG_RUNTIME_DIR/vgpuvm/NAME, or $VGPUVM_RUNTIME_DIR/NAME */
	int lock_fd; /* flock()ed; holds the supervisor's pid */
};

/* The directory that holds every VM's runtime directory. */
int runtime_base(char **ret);

/*
 * Creates the VM's runtime directory and takes its lock. -EBUSY when another supervisor holds it, with its pid in
 * *ret_holder (0 when unknown). -EPERM, with *ret_error saying why and the fix, when the directory or the one above
 * it is not the caller's (or root's) alone: a symlink, another owner, writable by others.
 */
int runtime_acquire(const char *name, struct runtime **ret, pid_t *ret_holder, char **ret_error);

/*
 * Removes the runtime files and the directory, then drops the lock. A crash record is kept, and with it the lock file
 * and the directory: it names an mdev still to be undone, and is what the next `run` or `cleanup` needs. Accepts NULL.
 */
void runtime_release(struct runtime *rt);
