/* SPDX-License-Identifier: MIT */
#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profiles/profile_argv.h"
#include "supervisor/launch/confine.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/spawn.h"
#include "supervisor/launch/virtiofsd.h"
#include "supervisor/launch/spawner.h"
#include "util/macro.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

int pidfd_open_(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? negative_errno() : fd;
}

int pidfd_send_signal_(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? negative_errno() : 0;
}

/* What the child tells the parent through the status pipe when a step before exec fails. */
enum child_step {
	STEP_PDEATHSIG,
	STEP_SESSION,
	STEP_FDS,
	STEP_MEMLOCK,
	STEP_GROUPS,
	STEP_CAPS,
	STEP_NNP,
	STEP_SECCOMP,
	STEP_SETUP,
	STEP_EXEC,
	STEP_MAX,
};

static const char *const step_names[STEP_MAX] = {
	[STEP_PDEATHSIG] = "ask to be stopped with the supervisor",
	[STEP_SESSION] = "start a session of its own for",
	[STEP_FDS] = "set up file descriptors",
	[STEP_MEMLOCK] = "set the locked-memory limit",
	[STEP_GROUPS] = "set the supplementary groups for",
	[STEP_CAPS] = "drop privileges (user, group, capabilities) for",
	[STEP_NNP] = "set no_new_privs for",
	[STEP_SECCOMP] = "load the seccomp filter for",
	[STEP_SETUP] = "set up the sandbox of",
	[STEP_EXEC] = "execute",
};

struct child_report {
	int step;
	int error;
};

static _Noreturn void child_fail(int status_fd, enum child_step step)
{
	struct child_report rep = { .step = step, .error = errno };
	ssize_t n _unused_ = write(status_fd, &rep, sizeof(rep));

	_exit(127);
}

/* Puts fd at target. The source may already be at a low number that another target needs, so the caller first
 * moved every source above 10. */
static int move_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

/*
 * QEMU keeps no capability at all, whoever it runs as: the sets are emptied, the bounding set too (so that exec
 * cannot give any back, even to uid 0), and NO_NEW_PRIVS makes setuid binaries and file capabilities inert.
 */
static void drop_privileges(const struct identity *id, uint64_t keep_caps, int status_fd)
{
	bool setpcap;
	int r;

	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_get_caps_process() < 0) {
		errno = EPERM;
		child_fail(status_fd, STEP_CAPS);
	}
	/* Only a process with CAP_SETPCAP can empty its bounding set; one without it has no capability to lose. */
	setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	/* A helper that stays root keeps these, and the bounding set only these: exec as uid 0 gives it no more. */
	for (unsigned cap = 0; cap < 64 && !(id && id->change); cap++)
		if ((keep_caps & (UINT64_C(1) << cap)) &&
		    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET, cap) < 0) {
			errno = EINVAL;
			child_fail(status_fd, STEP_CAPS);
		}
	if (id && id->change) {
		/* The groups first, while CAP_SETGID is still there; libcap-ng then changes the ids. */
		if (setgroups(id->n_groups, id->groups) < 0)
			child_fail(status_fd, STEP_GROUPS);
		r = capng_change_id((int)id->uid, (int)id->gid, setpcap ? CAPNG_CLEAR_BOUNDING : CAPNG_NO_FLAG);
	} else
		r = capng_apply(setpcap ? CAPNG_SELECT_ALL : CAPNG_SELECT_CAPS);
	if (r < 0) {
		/* libcap-ng's codes say which step failed, not why: errno does. */
		if (errno == 0)
			errno = EPERM;
		child_fail(status_fd, STEP_CAPS);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(status_fd, STEP_NNP);
}

/*
 * The first steps of every child, QEMU's and a helper's: tied to the supervisor's life, signals as a new process has
 * them, and a session of its own.
 */
static void child_begin(pid_t parent, int status_fd)
{
	sigset_t none;

	/* QEMU must not outlive its supervisor: SIGTERM makes QEMU quit cleanly and flush its disks. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		child_fail(status_fd, STEP_PDEATHSIG);
	if (getppid() != parent)
		_exit(127);

	/* Dispositions set to "ignore" (by nohup, say) and blocked signals survive exec; QEMU should start from the
	 * defaults. The real-time signals are left alone: nothing sets them to "ignore". */
	for (int sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/*
	 * QEMU never stays in the user's session: with no controlling terminal it can neither push input into the
	 * user's terminal (TIOCSTI) for root's shell to run later, nor open /dev/tty, nor get the keyboard's signals (a
	 * Ctrl-C reaches only vgpuvm, which shuts the guest down gracefully). Its fds 0-2 are never the user's terminal
	 * either: the serial console is a pty of its own (console.c), or /dev/null and pipes.
	 */
	if (setsid() < 0)
		child_fail(status_fd, STEP_SESSION);
}

/*
 * The last steps of every child, QEMU's and a helper's: its identity without a capability, the parent-death signal
 * again (a change of uid or gid clears it; and the parent must not have gone in between), the no-spawn filter, exec.
 */
static _Noreturn void child_end(const struct identity *id, uint64_t keep_caps, bool no_spawn, const char *path,
				char **argv, char **envp, pid_t parent, int status_fd)
{
	drop_privileges(id, keep_caps, status_fd);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		child_fail(status_fd, STEP_PDEATHSIG);
	if (getppid() != parent)
		_exit(127);
	if (no_spawn && (errno = -confine_no_spawn()) > 0)
		child_fail(status_fd, STEP_SECCOMP);
	environ = envp;
	execv(path, argv);
	child_fail(status_fd, STEP_EXEC);
}

/* In the child, after fork: the order is the house style's, so that each step runs with what it needs. */
static _Noreturn void child(const struct spawn_opts *o, pid_t parent, int status_fd, int out_fd, int err_fd)
{
	struct rlimit rl = { .rlim_cur = o->memlock, .rlim_max = o->memlock };
	int qmp, in, st, out, err, files[PROFILE_FILES_MAX];

	child_begin(parent, status_fd);

	in = o->stdio_fd >= 0 ? fcntl(o->stdio_fd, F_DUPFD, 10) : open("/dev/null", O_RDONLY);
	qmp = fcntl(o->qmp_fd, F_DUPFD, 10);
	st = fcntl(status_fd, F_DUPFD_CLOEXEC, 10);
	out = fcntl(out_fd >= 0 ? out_fd : o->stdio_fd, F_DUPFD, 10);
	err = fcntl(err_fd, F_DUPFD, 10);
	if (in < 0 || qmp < 0 || st < 0 || out < 0 || err < 0 || o->n_files > ELEMENTSOF(files))
		child_fail(status_fd, STEP_FDS);
	/* Above every target first, so that no move overwrites a source still to be moved. */
	for (size_t i = 0; i < o->n_files; i++)
		if ((files[i] = fcntl(o->files[i], F_DUPFD, 10 + PROFILE_FILE_FD_BASE + (int)o->n_files)) < 0)
			child_fail(status_fd, STEP_FDS);
	status_fd = st;
	if (move_fd(in, STDIN_FILENO) < 0 || move_fd(out, STDOUT_FILENO) < 0 || move_fd(err, STDERR_FILENO) < 0 ||
	    move_fd(qmp, 3) < 0 || dup3(st, 4, O_CLOEXEC) < 0)
		child_fail(status_fd, STEP_FDS);
	status_fd = 4;
	for (size_t i = 0; i < o->n_files; i++)
		if (move_fd(files[i], PROFILE_FILE_FD_BASE + (int)i) < 0)
			child_fail(status_fd, STEP_FDS);
	/* Everything else the supervisor has open stays with the supervisor. */
	if (syscall(SYS_close_range, (unsigned)(PROFILE_FILE_FD_BASE + o->n_files), ~0U, 0U) < 0)
		child_fail(status_fd, STEP_FDS);

	if (o->memlock && setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		child_fail(status_fd, STEP_MEMLOCK);
	child_end(o->id, 0, o->no_spawn, o->path, o->argv, o->envp, parent, status_fd);
}

/* The kernel's struct clone_args, as far as clone3() needs it here (CLONE_ARGS_SIZE_VER0). */
struct clone_args_v0 {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
};

/*
 * Forks a child whose parent is parent: this process (fork, then pidfd_open), or this process's own parent, when the
 * spawner forks for the supervisor (clone3 with CLONE_PARENT, and the pidfd from CLONE_PIDFD). Returns the pid (0 in
 * the child) and *ret_pidfd, or a negative errno. A child that cannot be watched is killed and reaped here.
 */
static pid_t fork_child(pid_t parent, int *ret_pidfd)
{
	pid_t pid;
	int pidfd = -1;

	if (parent == getpid()) {
		pid = fork();
		if (pid <= 0)
			return pid < 0 ? negative_errno() : 0;
		/* Right after fork, so that every later signal goes to this process and never to a reused pid. */
		pidfd = pidfd_open_(pid);
		if (pidfd < 0) {
			/* kill() by pid is safe: the child is not reaped yet, so its pid cannot have been reused. */
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return pidfd;
		}
	} else {
		/* With CLONE_PARENT the exit signal is the spawner's own (SIGCHLD); clone3() wants 0 asked for here. */
		struct clone_args_v0 a = { .flags = CLONE_PARENT | CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)&pidfd };

		pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
		/* Where clone3() is missing (valgrind says ENOSYS), clone() takes the same flags; x86-64's argument
		 * order: flags, stack, parent_tid (where CLONE_PIDFD puts the pidfd), child_tid, tls. */
		if (pid < 0 && errno == ENOSYS)
			pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT | CLONE_PIDFD), NULL, &pidfd, NULL,
					     0UL);
		if (pid < 0)
			return negative_errno();
		if (pid == 0) {
			/* A bare clone3() runs no fork handlers: libcap-ng would still act on the spawner's pid. */
			capng_setpid((int)getpid());
			return 0;
		}
	}
	*ret_pidfd = pidfd;
	return pid;
}

static void child_close(struct spawn_child *c)
{
	c->pidfd = safe_close(c->pidfd);
	c->status_fd = safe_close(c->status_fd);
	c->stdout_fd = safe_close(c->stdout_fd);
	c->stderr_fd = safe_close(c->stderr_fd);
}

int spawn_fork_qemu(const struct spawn_opts *o, pid_t parent, struct spawn_child *ret)
{
	int status[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, pidfd = -1, r;
	pid_t pid;

	if (pipe2(status, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    (o->stdio_fd < 0 && pipe2(outp, O_CLOEXEC) < 0)) {
		r = negative_errno();
		goto out_close;
	}
	pid = fork_child(parent, &pidfd);
	if (pid < 0) {
		r = pid;
		goto out_close;
	}
	if (pid == 0) {
		close(status[0]);
		child(o, parent, status[1], outp[1], errp[1]);
	}
	close(status[1]);
	close(errp[1]);
	safe_close(outp[1]);
	*ret = (struct spawn_child){
		.pid = pid, .pidfd = pidfd, .status_fd = status[0], .stdout_fd = outp[0], .stderr_fd = errp[0]
	};
	return 0;

out_close:
	for (int *fd = (int[]){ status[0], status[1], outp[0], outp[1], errp[0], errp[1] }, i = 0; i < 6; i++)
		safe_close(fd[i]);
	return r;
}

/* The spawner's socket, once run has one: every child is then forked there (spawner.h). */
static int spawner_sock = -1;

void spawn_set_spawner(int sock)
{
	spawner_sock = sock;
}

int spawn_qemu(const struct spawn_opts *o, struct spawned *ret, char **ret_error)
{
	struct spawn_child c;
	struct child_report rep;
	ssize_t n;
	int r;

	r = spawner_sock >= 0 ? spawner_qemu(spawner_sock, o, &c) : spawn_fork_qemu(o, getpid(), &c);
	if (r < 0) {
		if (ret_error &&
		    asprintf(ret_error,
			     spawner_sock >= 0
				 ? "cannot start %s through the spawner: %s"
				 : "cannot start or watch %s (fork, pidfd_open): %s; Linux 5.3 or later is needed",
			     o->argv[0], strerror(-r)) < 0)
			*ret_error = NULL;
		return r;
	}
	do
		n = read(c.status_fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(rep)) {
		/* The child failed before exec and is exiting: there is nothing to supervise. It is this process's
		 * child either way (the spawner forks it with CLONE_PARENT). */
		waitpid(c.pid, NULL, 0);
		r = rep.error > 0 ? -rep.error : -EIO;
		if (ret_error && asprintf(ret_error, "cannot %s %s: %s",
					  rep.step >= 0 && rep.step < STEP_MAX ? step_names[rep.step] : "start",
					  o->argv[0], strerror(-r)) < 0)
			*ret_error = NULL;
		child_close(&c);
		return r;
	}
	c.status_fd = safe_close(c.status_fd);
	/* The loop reads QEMU's output until it would block; QEMU's own ends stay blocking. */
	fcntl(c.stderr_fd, F_SETFL, O_NONBLOCK);
	if (c.stdout_fd >= 0)
		fcntl(c.stdout_fd, F_SETFL, O_NONBLOCK);
	*ret = (struct spawned){ .pid = c.pid, .pidfd = c.pidfd, .stdout_fd = c.stdout_fd, .stderr_fd = c.stderr_fd };
	return 0;
}

/* In a helper's child: the steps of child() above, for a helper's fds. */
static _Noreturn void helper_child(const struct spawn_helper_opts *o, pid_t parent, int status_fd, int out_fd)
{
	int moved[8], in, st, out;

	child_begin(parent, status_fd);

	if (o->n_fds > ELEMENTSOF(moved))
		child_fail(status_fd, STEP_FDS);
	/* Above every target first, as in child(): 3 + n_fds is the status pipe's place. */
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	st = fcntl(status_fd, F_DUPFD_CLOEXEC, 10 + (int)o->n_fds);
	out = fcntl(out_fd, F_DUPFD, 10 + (int)o->n_fds);
	if (in < 0 || st < 0 || out < 0)
		child_fail(status_fd, STEP_FDS);
	status_fd = st;
	for (size_t i = 0; i < o->n_fds; i++)
		if ((moved[i] = fcntl(o->fds[i], F_DUPFD, 10 + (int)o->n_fds)) < 0)
			child_fail(status_fd, STEP_FDS);
	if (move_fd(in, STDIN_FILENO) < 0 || move_fd(out, STDOUT_FILENO) < 0 || move_fd(out, STDERR_FILENO) < 0)
		child_fail(status_fd, STEP_FDS);
	for (size_t i = 0; i < o->n_fds; i++)
		if (move_fd(moved[i], 3 + (int)i) < 0)
			child_fail(status_fd, STEP_FDS);
	if (dup3(st, 3 + (int)o->n_fds, O_CLOEXEC) < 0)
		child_fail(status_fd, STEP_FDS);
	status_fd = 3 + (int)o->n_fds;
	if (syscall(SYS_close_range, (unsigned)status_fd + 1, ~0U, 0U) < 0)
		child_fail(status_fd, STEP_FDS);

	if (o->setup == SPAWN_SETUP_SHARE && (errno = -virtiofsd_setup_namespace(o->setup_path, o->setup_readonly)) > 0)
		child_fail(status_fd, STEP_SETUP);
	child_end(o->id, o->keep_caps, o->no_spawn, o->path, o->argv, o->envp, parent, status_fd);
}

int spawn_fork_helper(const struct spawn_helper_opts *o, pid_t parent, struct spawn_child *ret)
{
	int status[2] = { -1, -1 }, outp[2] = { -1, -1 }, pidfd = -1, r;
	pid_t pid;

	if (pipe2(status, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		r = negative_errno();
		goto out_close;
	}
	pid = fork_child(parent, &pidfd);
	if (pid < 0) {
		r = pid;
		goto out_close;
	}
	if (pid == 0) {
		close(status[0]);
		helper_child(o, parent, status[1], outp[1]);
	}
	close(status[1]);
	close(outp[1]);
	*ret = (struct spawn_child){
		.pid = pid, .pidfd = pidfd, .status_fd = status[0], .stdout_fd = -1, .stderr_fd = outp[0]
	};
	return 0;

out_close:
	for (int *fd = (int[]){ status[0], status[1], outp[0], outp[1] }, i = 0; i < 4; i++)
		safe_close(fd[i]);
	return r;
}

int spawn_helper_begin(const struct spawn_helper_opts *o, struct spawned *ret, int *ret_status_fd)
{
	struct spawn_child c;
	int r;

	/* A helper that cannot be watched was killed already: nothing would reap it. */
	r = spawner_sock >= 0 ? spawner_helper(spawner_sock, o, &c) : spawn_fork_helper(o, getpid(), &c);
	if (r < 0)
		return r;
	fcntl(c.stderr_fd, F_SETFL, O_NONBLOCK);
	*ret = (struct spawned){ .pid = c.pid, .pidfd = c.pidfd, .stdout_fd = -1, .stderr_fd = c.stderr_fd };
	*ret_status_fd = c.status_fd;
	return 0;
}

int spawn_helper_finish(struct spawned *s, int status_fd, const char *name, char **ret_error)
{
	struct child_report rep;
	ssize_t n;
	int r;

	do
		n = read(status_fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(status_fd);
	if (n != sizeof(rep))
		return 0;
	/* It failed before exec and is exiting: reap it here, there is nothing to watch. */
	waitpid(s->pid, NULL, 0);
	r = rep.error > 0 ? -rep.error : -EIO;
	if (ret_error &&
	    asprintf(ret_error, "cannot %s %s: %s",
		     rep.step >= 0 && rep.step < STEP_MAX ? step_names[rep.step] : "start", name, strerror(-r)) < 0)
		*ret_error = NULL;
	s->pidfd = safe_close(s->pidfd);
	s->stderr_fd = safe_close(s->stderr_fd);
	return r;
}
