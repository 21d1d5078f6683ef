/* SPDX-License-Identifier: MIT */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/launch/confine.h"
#include "supervisor/launch/spawn.h"
#include "supervisor/launch/spawner.h"
#include "supervisor/launch/spawner_msg.h"
#include "util/macro.h"

/* Room for one message's fds, the most either side sends. */
union fd_control {
	struct cmsghdr h;
	char buf[CMSG_SPACE(sizeof(int) * SPAWNER_FDS_MAX)];
};

static ssize_t send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t n_fds)
{
	union fd_control control = {};
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (n_fds > SPAWNER_FDS_MAX)
		return -E2BIG;
	if (n_fds > 0) {
		struct cmsghdr *c;

		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		/* The union's own header, where CMSG_FIRSTHDR() points: the analyzer cannot tell that it is never NULL.
		 */
		c = &control.h;
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? negative_errno() : n;
}

/*
 * Reads one message and up to max fds (close-on-exec); a message cut short, or one whose fds were, is refused
 * (-EBADMSG) with every fd that came closed. Returns its length (0 at EOF) or a negative errno.
 */
static ssize_t recv_with_fds(int sock, void *buf, size_t len, int *ret_fds, size_t max, size_t *ret_n)
{
	union fd_control control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)
	};
	size_t k = 0;
	bool bad;
	ssize_t n;

	*ret_n = 0;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	bad = msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t count;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (k < max)
				ret_fds[k++] = fd;
			else {
				close(fd);
				bad = true;
			}
		}
	}
	if (bad) {
		for (size_t i = 0; i < k; i++)
			close(ret_fds[i]);
		return -EBADMSG;
	}
	*ret_n = k;
	return n;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		safe_close(fds[i]);
}

/* In the spawner: forks what one request asks for and answers with the child's pid and fds. */
static void serve(int sock, pid_t parent, void *buf, size_t len, int *fds, size_t n_fds)
{
	static struct spawner_req req;
	struct spawner_reply rep = { .magic = SPAWNER_REPLY_MAGIC };
	struct spawn_child c = { .pidfd = -1, .status_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
	int r;

	r = spawner_decode(buf, len, n_fds, &req);
	if (r == 0 && req.kind == SPAWNER_QEMU) {
		size_t first = 1 + req.has_stdio;
		struct spawn_opts o = { .path = req.path,
					.argv = req.argv,
					.envp = req.envp,
					.qmp_fd = fds[0],
					.stdio_fd = req.has_stdio ? fds[1] : -1,
					.memlock = req.memlock,
					.id = req.has_id ? &req.id : NULL,
					.no_spawn = req.no_spawn,
					.files = fds + first,
					.n_files = n_fds - first };

		r = spawn_fork_qemu(&o, parent, &c);
	} else if (r == 0) {
		struct spawn_helper_opts o = { .path = req.path,
					       .argv = req.argv,
					       .envp = req.envp,
					       .fds = fds,
					       .n_fds = n_fds,
					       .id = req.has_id ? &req.id : NULL,
					       .no_spawn = req.no_spawn,
					       .keep_caps = req.keep_caps,
					       .setup = req.setup,
					       .setup_path = req.setup_path,
					       .setup_readonly = req.setup_readonly };

		r = spawn_fork_helper(&o, parent, &c);
	}
	/* The child has its own copies now. */
	close_all(fds, n_fds);
	rep.error = r;
	if (r == 0) {
		int out[4] = { c.pidfd, c.status_fd, c.stderr_fd, c.stdout_fd };

		rep.pid = c.pid;
		rep.has_stdout = c.stdout_fd >= 0;
		/* A supervisor that cannot take the answer has gone, or will find its child by SIGCHLD all the same. */
		(void)send_with_fds(sock, &rep, sizeof(rep), out, 3 + rep.has_stdout);
		close_all(out, 4);
	} else
		(void)send_with_fds(sock, &rep, sizeof(rep), NULL, 0);
}

/*
 * The spawner keeps, of root's powers, only what its children's change of identity and limits need: the ids
 * (CAP_SETUID, CAP_SETGID), emptying a bounding set (CAP_SETPCAP) and raising RLIMIT_MEMLOCK (CAP_SYS_RESOURCE).
 * And extra: those a helper that stays root keeps (virtiofsd's, only when the profile has shares), since a child
 * can have no capability its parent lost. Without CAP_SETPCAP (vgpuvm is not root) it has nothing to give up.
 */
static int keep_spawning_caps(uint64_t extra)
{
	static const unsigned base[] = { CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_SYS_RESOURCE };
	bool have[CAP_LAST_CAP + 1];
	uint64_t kept = extra;

	if (capng_get_caps_process() < 0)
		return -EPERM;
	if (!capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP))
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(base); i++)
		kept |= UINT64_C(1) << base[i];
	for (unsigned c = 0; c <= CAP_LAST_CAP; c++)
		have[c] = capng_have_capability(CAPNG_PERMITTED, c);
	capng_clear(CAPNG_SELECT_BOTH);
	/* Only those it has: a container's root may lack one (CAP_SYS_RESOURCE, say), and cannot add it back. */
	for (unsigned c = 0; c <= CAP_LAST_CAP; c++)
		if ((kept & (UINT64_C(1) << c)) && have[c] &&
		    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET, c) < 0)
			return -EPERM;
	return capng_apply(CAPNG_SELECT_BOTH) < 0 ? -EPERM : 0;
}

static _Noreturn void spawner_main(int sock, pid_t parent, uint64_t extra_caps)
{
	static char buf[SPAWNER_MSG_MAX];
	int fds[SPAWNER_FDS_MAX];

	/* It must not outlive the supervisor: nothing else would ever close its socket. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	(void)prctl(PR_SET_NAME, "vgpuvm-spawner");
	/* No fd but its socket: not the terminal, not the runtime directory's lock, not the control socket. */
	if ((sock != 3 && dup3(sock, 3, O_CLOEXEC) < 0) || syscall(SYS_close_range, 0U, 2U, 0U) < 0 ||
	    syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
		_exit(127);
	sock = 3;
	if (keep_spawning_caps(extra_caps) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || confine_spawner() < 0)
		_exit(127);

	for (;;) {
		size_t n_fds;
		ssize_t n = recv_with_fds(sock, buf, sizeof(buf), fds, ELEMENTSOF(fds), &n_fds);

		if (n == 0 || (n < 0 && n != -EBADMSG))
			_exit(0);
		if (n < 0) {
			struct spawner_reply rep = { .error = -EBADMSG, .magic = SPAWNER_REPLY_MAGIC };

			(void)send_with_fds(sock, &rep, sizeof(rep), NULL, 0);
			continue;
		}
		serve(sock, parent, buf, (size_t)n, fds, n_fds);
	}
}

int spawner_start(uint64_t extra_caps, pid_t *ret_pid, int *ret_sock)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	pid = fork();
	if (pid < 0) {
		int r = negative_errno();

		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0)
		spawner_main(sv[1], parent, extra_caps);
	close(sv[1]);
	*ret_pid = pid;
	*ret_sock = sv[0];
	return 0;
}

void spawner_stop(pid_t pid, int sock)
{
	safe_close(sock);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

/* Sends one encoded request and takes the answer. */
static int call(int sock, void *buf, size_t len, const int *fds, size_t n_fds, struct spawn_child *ret)
{
	struct spawner_reply rep;
	int got[4];
	size_t n_got;
	ssize_t n;

	n = send_with_fds(sock, buf, len, fds, n_fds);
	if (n < 0)
		return (int)n;
	n = recv_with_fds(sock, &rep, sizeof(rep), got, ELEMENTSOF(got), &n_got);
	if (n < 0)
		return (int)n;
	if (n != sizeof(rep) || rep.magic != SPAWNER_REPLY_MAGIC) {
		close_all(got, n_got);
		/* 0: the spawner is gone. */
		return n == 0 ? -ECONNRESET : -EBADMSG;
	}
	if (rep.error < 0) {
		close_all(got, n_got);
		return rep.error >= -4095 ? rep.error : -EIO;
	}
	if (rep.pid <= 0 || rep.has_stdout > 1 || n_got != 3 + rep.has_stdout) {
		close_all(got, n_got);
		return -EBADMSG;
	}
	*ret = (struct spawn_child){ .pid = rep.pid,
				     .pidfd = got[0],
				     .status_fd = got[1],
				     .stderr_fd = got[2],
				     .stdout_fd = rep.has_stdout ? got[3] : -1 };
	return 0;
}

int spawner_qemu(int sock, const struct spawn_opts *o, struct spawn_child *ret)
{
	_cleanup_free_ void *buf = NULL;
	int fds[SPAWNER_FDS_MAX];
	size_t len, n_fds;
	int r;

	r = spawner_encode_qemu(o, &buf, &len, fds, &n_fds);
	return r < 0 ? r : call(sock, buf, len, fds, n_fds, ret);
}

int spawner_helper(int sock, const struct spawn_helper_opts *o, struct spawn_child *ret)
{
	_cleanup_free_ void *buf = NULL;
	int fds[SPAWNER_FDS_MAX];
	size_t len, n_fds;
	int r;

	r = spawner_encode_helper(o, &buf, &len, fds, &n_fds);
	return r < 0 ? r : call(sock, buf, len, fds, n_fds, ret);
}
