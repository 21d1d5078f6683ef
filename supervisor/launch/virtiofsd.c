/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/host/trust.h"
#include "supervisor/host/virtiofsd_bin.h"
#include "supervisor/launch/helper.h"
#include "supervisor/launch/spawn.h"
#include "supervisor/launch/virtiofsd.h"
#include "util/errmsg.h"
#include "util/macro.h"

#define CAP(c) (UINT64_C(1) << (c))

/*
 * What virtiofsd uses, and nothing else in its bounding set. To serve the guest's files as their owners: CHOWN,
 * DAC_OVERRIDE, FOWNER, FSETID, SETGID, SETUID, MKNOD, SETFCAP (virtiofsd's own default set, which it keeps). For its
 * sandbox, once at its start: SYS_ADMIN (unshare, mount, pivot_root) and SETPCAP (its waiting parent empties its own
 * bounding set); virtiofsd drops both from its effective set once the sandbox is up.
 */
uint64_t virtiofsd_caps(void)
{
	return CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | CAP(CAP_FOWNER) | CAP(CAP_FSETID) | CAP(CAP_SETGID) |
	       CAP(CAP_SETUID) | CAP(CAP_MKNOD) | CAP(CAP_SETFCAP) | CAP(CAP_SYS_ADMIN) | CAP(CAP_SETPCAP);
}

/* virtiofsd keeps an fd for each inode the guest looks up: QEMU 7.2's default limit, set here instead of by it. */
#define NOFILE_LIMIT 1000000

/* In the helper's child: the listening socket at fd 3, the share's directory (O_PATH) at fd 4. */
#define SHARE_FD 4

/*
 * In the child, still root with every capability: a mount namespace of its own in which the directory vgpuvm opened
 * (by fd: no path is walked again) is mounted on the mount point, read-only for a read-only share. The mount is a
 * clone of the directory's own (open_tree), made before the namespace: a mount of the old namespace cannot be bound
 * in the new one, a detached clone can be moved there. Mounts below the directory are not taken along: one
 * filesystem, which the read-only flag then covers whole. The clone keeps the original's nosuid, nodev, noexec.
 * Nothing propagates back to the host's namespace.
 */
int virtiofsd_setup_namespace(const char *mountpoint, bool readonly)
{
	struct rlimit rl = { .rlim_cur = NOFILE_LIMIT, .rlim_max = NOFILE_LIMIT };
	_cleanup_close_ int tree = -1;

	tree = open_tree(SHARE_FD, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		return negative_errno();
	if (readonly && mount_setattr(tree, "", AT_EMPTY_PATH, &(struct mount_attr){ .attr_set = MOUNT_ATTR_RDONLY },
				      sizeof(struct mount_attr)) < 0)
		return negative_errno();
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    move_mount(tree, "", AT_FDCWD, mountpoint, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return negative_errno();
	close(SHARE_FD);
	/* Best effort: without it virtiofsd runs out of fds on a big tree, but still runs. */
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	return 0;
}

/* A listening socket at path and a connected one for QEMU; the path goes at once: no one else is to connect. */
static int make_socket(const char *path, int *ret_listen, int *ret_qemu)
{
	_cleanup_close_ int l = -1, q = -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	q = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || q < 0)
		return negative_errno();
	(void)unlink(path);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negative_errno();
	/* The backlog holds QEMU's connection until virtiofsd accepts it: nothing waits for virtiofsd to listen. */
	if (listen(l, 1) < 0 || connect(q, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = negative_errno();
	(void)unlink(path);
	if (r < 0)
		return r;
	*ret_listen = TAKE_FD(l);
	*ret_qemu = TAKE_FD(q);
	return 0;
}

/* The mount point in the runtime directory (root's): an empty directory on the host. */
static int make_mountpoint(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	if (lstat(path, &st) < 0)
		return negative_errno();
	return S_ISDIR(st.st_mode) && st.st_uid == geteuid() ? 0 : -EPERM;
}

int virtiofsd_start(struct helpers *hs, const struct virtiofsd_bin *b, const struct profile *p, size_t i,
		    const char *runtime_dir, char **envp, int *ret_qemu_fd, char **ret_error)
{
	const struct profile_share *sh = &p->shares[i];
	_cleanup_free_ char *error = NULL, *mnt = NULL, *sock = NULL, *source = NULL, *fd_arg = NULL;
	_cleanup_close_ int share = -1, listen_fd = -1, qemu_fd = -1;
	char name[HELPER_NAME_MAX], *argv[16];
	size_t n = 0;
	int r;

	if (geteuid() != 0)
		return errmsg(ret_error, -EPERM,
			      "shares need vgpuvm to run as root: virtiofsd serves the files of every owner from a "
			      "sandbox it makes with namespaces");
	share = trust_open_share(sh->path, &error);
	if (share < 0)
		return errmsg(ret_error, share, "the share %s (\"%s\"): %s", sh->path, sh->tag,
			      error ?: strerror(-share));
	if (asprintf(&mnt, "%s/fs-%zu", runtime_dir, i) < 0 || asprintf(&sock, "%s/fs-%zu.sock", runtime_dir, i) < 0 ||
	    asprintf(&fd_arg, "--fd=%d", 3) < 0)
		return -ENOMEM;
	/* QEMU 7.2's virtiofsd reads its options split at commas. */
	if (!b->rust && strchr(mnt, ','))
		return errmsg(ret_error, -EINVAL, "the runtime directory %s has a comma, which virtiofsd cannot take",
			      runtime_dir);
	if ((r = make_mountpoint(mnt)) < 0)
		return errmsg(ret_error, r, "cannot make the mount point %s: %s", mnt, strerror(-r));
	if ((r = make_socket(sock, &listen_fd, &qemu_fd)) < 0)
		return errmsg(ret_error, r, "cannot make virtiofsd's socket %s: %s", sock, strerror(-r));
	argv[n++] = "virtiofsd";
	argv[n++] = fd_arg;
	if (b->rust) {
		if (asprintf(&source, "--shared-dir=%s", mnt) < 0)
			return -ENOMEM;
		argv[n++] = source;
		argv[n++] = "--sandbox=namespace";
		argv[n++] = "--seccomp=kill";
		argv[n++] = "--rlimit-nofile=0";
		argv[n++] = "--log-level=warn";
		/* Its own refusal on top of the read-only mount, which holds either way. */
		if (sh->readonly && b->readonly)
			argv[n++] = "--readonly";
	} else {
		if (asprintf(&source, "source=%s", mnt) < 0)
			return -ENOMEM;
		argv[n++] = "-o";
		argv[n++] = source;
		argv[n++] = "-o";
		argv[n++] = "sandbox=namespace";
		/* Its info level logs each queue's start and end: the supervisor's log wants what goes wrong. */
		argv[n++] = "-o";
		argv[n++] = "log_level=warn";
		argv[n++] = "--rlimit-nofile=0";
	}
	argv[n] = NULL;
	snprintf(name, sizeof(name), p->n_shares == 1 ? "virtiofsd" : "virtiofsd-%zu", i);
	r = helper_start(hs, name,
			 &(struct spawn_helper_opts){
			     .path = b->path,
			     .argv = argv,
			     .envp = envp,
			     .fds = (int[]){ listen_fd, share },
			     .n_fds = 2,
			     .keep_caps = virtiofsd_caps(),
			     .setup = SPAWN_SETUP_SHARE,
			     .setup_path = mnt,
			     .setup_readonly = sh->readonly,
			 });
	if (r < 0)
		return errmsg(ret_error, r, "cannot start virtiofsd for %s: %s", sh->path, strerror(-r));
	*ret_qemu_fd = TAKE_FD(qemu_fd);
	return 0;
}
