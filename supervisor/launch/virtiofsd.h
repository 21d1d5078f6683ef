/* SPDX-License-Identifier: MIT */
/*
 * The profile's shares: a virtiofsd for each, one more helper (helper.h). It runs as root, since it serves files of
 * every owner (the guest's uids), in a sandbox of its own: a mount namespace where the only thing it can reach is a
 * bind mount of the directory vgpuvm opened (read-only for a read-only share), then its own namespaces, pivot_root
 * and seccomp filter, with a bounding set of only the capabilities it uses (docs/security.md).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct helpers;
struct profile;
struct virtiofsd_bin;

/*
 * Starts share i's virtiofsd and adds it to hs (helpers_confirm() says whether it got to run). QEMU's end of its
 * vhost-user socket, already connected, goes to *ret_qemu_fd; the socket's path in runtime_dir is gone by then. The
 * mount point, runtime_dir/fs-I, stays until the runtime directory goes. -EPERM (the share cannot be trusted, or
 * vgpuvm is not root), others with *ret_error.
 */
int virtiofsd_start(struct helpers *hs, const struct virtiofsd_bin *b, const struct profile *p, size_t i,
		    const char *runtime_dir, char **envp, int *ret_qemu_fd, char **ret_error);

/* The capabilities virtiofsd keeps, as 1 << CAP_*: what the spawner must keep to start it (spawner_start()). */
uint64_t virtiofsd_caps(void);

/*
 * In virtiofsd's child, still root: the share's directory, at fd 4, mounted on mountpoint in a mount namespace of the
 * child's own, read-only when readonly (SPAWN_SETUP_SHARE). Returns 0 or a negative errno.
 */
int virtiofsd_setup_namespace(const char *mountpoint, bool readonly);
