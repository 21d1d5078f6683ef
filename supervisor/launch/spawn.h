/* SPDX-License-Identifier: MIT */
/* Starting QEMU: the fds it gets, the limits it runs under, and a pidfd to watch it with. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct identity;

struct spawn_opts {
	const char *path;	   /* the binary to execute: an absolute path, or one with a '/' */
	char **argv;		   /* argv[0] is what QEMU is called, as the profile names it */
	char **envp;		   /* the child's whole environment */
	int qmp_fd;		   /* the child's end of the QMP socket pair; it becomes fd 3 */
	int stdio_fd;		   /* QEMU's stdin and stdout (the serial console's pty), or -1: /dev/null and a pipe */
	uint64_t memlock;	   /* RLIMIT_MEMLOCK, soft and hard; 0 leaves the limit alone */
	const struct identity *id; /* whom QEMU runs as; it never keeps a capability, and gets NO_NEW_PRIVS */
	bool no_spawn;		   /* a seccomp filter keeps QEMU from making processes (threads are fine) */
	const int
	    *files; /* fds QEMU gets at PROFILE_FILE_FD_BASE on, in profile_files() order (images, kernel, taps) */
	size_t n_files;
};

struct spawned {
	pid_t pid;
	int pidfd;
	int stdout_fd; /* read ends of QEMU's output, -1 when not piped */
	int stderr_fd;
};

/*
 * Forks and execs. Returns only once the exec has happened or failed: a failure in the child (a missing binary, a
 * limit that cannot be set) comes back as its negative errno, with *ret_error saying which step failed.
 */
int spawn_qemu(const struct spawn_opts *o, struct spawned *ret, char **ret_error);

int pidfd_open_(pid_t pid);
int pidfd_send_signal_(int pidfd, int sig);

enum spawn_setup {
	SPAWN_SETUP_NONE,
	/* virtiofsd's: the directory at fd 4 mounted on setup_path in a mount namespace of the helper's own
	 * (virtiofsd_setup_namespace()) */
	SPAWN_SETUP_SHARE,
	SPAWN_SETUP_MAX,
};

/* A helper process QEMU needs (swtpm, virtiofsd): started before QEMU, confined as QEMU is. */
struct spawn_helper_opts {
	const char *path; /* the binary, found before the fork (an absolute path) */
	char **argv;
	char **envp;
	const int *fds; /* the helper finds these at fd 3, 4, ... in order */
	size_t n_fds;
	const struct identity *id; /* QEMU's: the same uid, no capability, NO_NEW_PRIVS */
	bool no_spawn;		   /* the filter of confine_no_spawn() (a helper that forks, as swtpm_setup, cannot) */
	/* A helper that stays root (id NULL; virtiofsd): the only capabilities it keeps, bounding set included, as
	 * 1 << CAP_*. 0: none, as QEMU. */
	uint64_t keep_caps;
	/* Done in the child once its fds are in place, before any privilege is dropped: a sandbox of the helper's own.
	 * A kind and its data rather than a function, since the request crosses the spawner's socket. */
	enum spawn_setup setup;
	const char *setup_path; /* SPAWN_SETUP_SHARE: the mount point */
	bool setup_readonly;	/* SPAWN_SETUP_SHARE: mount the share read-only */
};

/*
 * Forks a helper that execs as spawn_qemu()'s QEMU does: the parent-death signal (set again after the change of uid),
 * a session of its own, the default signals, stdin from /dev/null, stdout and stderr into one pipe (*ret's
 * stderr_fd, non-blocking; stdout_fd is -1), no other fd than o->fds, then the identity, NO_NEW_PRIVS and the filter.
 * Returns at once, without waiting for the exec: so that QEMU starts while the helper does. *ret_status_fd is the
 * exec-status pipe that spawn_helper_finish() reads.
 */
int spawn_helper_begin(const struct spawn_helper_opts *o, struct spawned *ret, int *ret_status_fd);

/*
 * Waits until the helper of spawn_helper_begin() has exec'd (0) or failed: then its negative errno, with *ret_error
 * saying which step failed for name; the helper is reaped and s's fds closed. Closes status_fd.
 */
int spawn_helper_finish(struct spawned *s, int status_fd, const char *name, char **ret_error);

/* A child just forked, before its exec: what its parent holds of it. */
struct spawn_child {
	pid_t pid;
	int pidfd;
	int status_fd; /* the exec-status pipe's read end: a struct of the failing step and errno, or EOF at exec */
	int stdout_fd; /* read ends of its output, -1 when not piped */
	int stderr_fd;
};

/*
 * The fork alone, without waiting for the exec: the child's parent is parent, which is either this process (fork) or
 * this process's own parent (clone3 with CLONE_PARENT: the spawner forks the supervisor's children). Returns 0 or a
 * negative errno; a child that could not be watched (no pidfd) is killed and reaped first.
 */
int spawn_fork_qemu(const struct spawn_opts *o, pid_t parent, struct spawn_child *ret);
int spawn_fork_helper(const struct spawn_helper_opts *o, pid_t parent, struct spawn_child *ret);

/*
 * From now on spawn_qemu() and spawn_helper_begin() ask the spawner on sock (spawner.h) to fork, instead of forking
 * here; -1 forks here again. The calls stay the same for their callers.
 */
void spawn_set_spawner(int sock);
