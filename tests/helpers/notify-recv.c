/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for systemd's end of sd_notify: binds a unix datagram socket, as systemd does for NOTIFY_SOCKET, and
 * writes each datagram it receives to a file, one line each, so that a shell test can wait for "READY=1" in that file
 * with tail -f and check the order of the messages.
 *
 *   notify-recv [-p] SOCKETPATH OUTFILE
 *
 * SOCKETPATH is a file system path (a stale socket there is unlinked first) or, as in NOTIFY_SOCKET, "@NAME" for a
 * socket in the abstract namespace. OUTFILE is appended to. The socket is bound before the process forks, and the
 * parent prints the daemon's pid on stdout and exits 0 only then, so "pid=$(notify-recv S F)" can be followed at once
 * by a sender. Each datagram becomes one line: trailing newlines are dropped, the newlines inside become " | ", and a
 * NUL byte becomes "\0". With -p the line starts with the sender's pid and a space (from SCM_CREDENTIALS, which the
 * kernel fills in, as systemd reads it for NotifyAccess=main). File descriptors sent along (FDSTORE=1) are closed.
 * SIGTERM, SIGINT or SIGHUP end the daemon, which then removes its socket file.
 *
 * Exit status of the parent: 0 once bound, 1 on a system error, 64 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/macro.h"

/* systemd reads notification datagrams into a buffer of this size (NOTIFY_BUFFER_MAX); longer ones are cut. */
#define DATAGRAM_MAX 4096

static bool arg_pid;
static const char *arg_socket;
static const char *arg_out;

/* Fills in the address for a path or an "@abstract" name; returns the address length or a negative errno. */
static int make_address(const char *name, struct sockaddr_un *ret)
{
	size_t len = strlen(name);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (len == 0 || len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@') {
		/* The abstract namespace: a leading NUL, and the length says where the name ends. */
		sa.sun_path[0] = '\0';
		*ret = sa;
		return (int)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	*ret = sa;
	return (int)sizeof(sa);
}

static int bind_socket(const char *name, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa;
	int len, one = 1;

	len = make_address(name, &sa);
	if (len < 0)
		return len;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The kernel then attaches the sender's pid, uid and gid to every datagram, whether or not it sends them. */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		return -errno;
	if (name[0] != '@') {
		struct stat st;

		/* A socket left by a daemon that was killed would make bind() fail; anything else is not ours. */
		if (lstat(name, &st) == 0) {
			if (!S_ISSOCK(st.st_mode))
				return -EEXIST;
			if (unlink(name) < 0)
				return -errno;
		}
	}
	if (bind(fd, (struct sockaddr *)&sa, (socklen_t)len) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Closes any descriptors that came along, so that FDSTORE=1 from a sender cannot make this daemon leak. */
static void close_passed_fds(struct msghdr *mh, pid_t *ret_pid)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*ret_pid = uc.pid;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	}
}

/* Writes one datagram as one line, flushed, so that a reader following the file sees it at once. */
static int write_line(FILE *out, pid_t sender, const char *buf, size_t len)
{
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	if (arg_pid)
		fprintf(out, "%ld ", (long)sender);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n')
			fputs(" | ", out);
		else if (buf[i] == '\0')
			fputs("\\0", out);
		else
			fputc(buf[i], out);
	}
	fputc('\n', out);
	if (fflush(out) != 0)
		return -errno;
	return 0;
}

static int receive_one(int fd, FILE *out)
{
	char buf[DATAGRAM_MAX];
	union {
		struct cmsghdr align;
		char data[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 253)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		.msg_controllen = sizeof(control),
	};
	pid_t sender = 0;
	ssize_t n;

	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	close_passed_fds(&mh, &sender);
	return write_line(out, sender, buf, (size_t)n);
}

static int serve(int fd, FILE *out)
{
	_cleanup_close_ int sigfd = -1;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		return -errno;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = fd, .events = POLLIN },
		};
		int r;

		if (poll(pfd, ELEMENTSOF(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* Datagrams first: whatever was sent before the signal still gets written. */
		if (pfd[1].revents & POLLIN) {
			r = receive_one(fd, out);
			if (r < 0)
				return r;
			continue;
		}
		if (pfd[0].revents & POLLIN)
			return 0;
	}
}

static void usage(FILE *f)
{
	fputs("Usage: notify-recv [-p] SOCKETPATH|@ABSTRACT OUTFILE\n", f);
}

/*
 * Puts two descriptors at 3 and 4, whatever numbers they have now: each goes to a high number first, so that placing
 * one cannot close the other. Returns 0 or a negative errno.
 */
static int place_fds(int *a, int *b)
{
	int ha, hb;

	ha = fcntl(*a, F_DUPFD_CLOEXEC, 10);
	hb = fcntl(*b, F_DUPFD_CLOEXEC, 10);
	if (ha < 0 || hb < 0)
		return -errno;
	close(*a);
	close(*b);
	if (dup3(ha, 3, O_CLOEXEC) < 0 || dup3(hb, 4, O_CLOEXEC) < 0)
		return -errno;
	close(ha);
	close(hb);
	*a = 3;
	*b = 4;
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_close_ int fd = -1, out_fd = -1;
	FILE *out;
	pid_t pid;
	int c, r, null;

	while ((c = getopt(argc, argv, "ph")) >= 0) {
		switch (c) {
		case 'p':
			arg_pid = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 64;
	}
	arg_socket = argv[optind];
	arg_out = argv[optind + 1];

	/* Everything that can fail is done before the fork, so that the parent's exit status tells. */
	out_fd = open(arg_out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (out_fd < 0) {
		fprintf(stderr, "notify-recv: cannot open %s: %m\n", arg_out);
		return 1;
	}
	r = bind_socket(arg_socket, &fd);
	if (r < 0) {
		fprintf(stderr, "notify-recv: cannot bind %s: %s\n", arg_socket, strerror(-r));
		return 1;
	}

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "notify-recv: fork: %m\n");
		return 1;
	}
	if (pid > 0) {
		printf("%ld\n", (long)pid);
		return fflush(stdout) == 0 ? 0 : 1;
	}

	/*
	 * The daemon keeps the socket and the output file and nothing else of its caller's: a test runner (bats) waits
	 * for the pipes it handed out to close, and "$(notify-recv ...)" waits for stdout to close. It keeps its
	 * working directory, so that a relative SOCKETPATH still names its socket when it removes it at the end.
	 */
	setsid();
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
		_exit(1);
	if (place_fds(&fd, &out_fd) < 0)
		_exit(1);
	close_range(5, ~0U, 0);
	out = fdopen(TAKE_FD(out_fd), "a");
	if (!out)
		_exit(1);

	r = serve(fd, out);
	if (arg_socket[0] != '@')
		unlink(arg_socket);
	fclose(out);
	_exit(r < 0 ? 1 : 0);
}
