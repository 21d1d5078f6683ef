/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "supervisor/vm/console.h"
#include "supervisor/log.h"
#include "util/macro.h"
#include "util/time-util.h"

#define CONSOLE_BUF 4096
#define CTRL_A 0x01

/* One direction of the relay: bytes read from one side, not yet written to the other. */
struct console_buf {
	char data[CONSOLE_BUF];
	size_t len;
};

struct console {
	int master;		/* the pty's end the supervisor keeps */
	int in, out;		/* the supervisor's own fds of the user's stdin and stdout */
	bool in_sock, out_sock; /* sockets (a service's stdout, say): recv and send with MSG_DONTWAIT */
	bool in_done;		/* at EOF, hung up, or not ours to read: no longer polled */
	bool out_gone;		/* writing failed for good: QEMU's output is dropped, with one warning */
	bool master_done;	/* QEMU's side is closed and everything it wrote has been read */
	bool raw;		/* the user's terminal is in raw mode; saved is what to restore */
	bool escape;		/* the last byte typed was Ctrl-A */
	struct termios saved;
	struct console_buf to_guest, to_user;
};

bool console_interactive(const struct console *c)
{
	return c && c->raw;
}

/*
 * A file description of the supervisor's own for fd, non-blocking. O_NONBLOCK set on fd itself would be set for
 * everyone who shares its description: the shell that started vgpuvm, and vgpuvm's own stderr when it is the same
 * terminal; and it would outlive a SIGKILLed vgpuvm. A terminal or a pipe is opened again through /proc/self/fd, which
 * names the file fd has (no path lookup anyone else controls); the result must be the same file. Anything else (a
 * regular file, /dev/null, a socket, or a terminal that cannot be opened again) is duplicated as it is: files and
 * /dev/null never block, sockets are used with MSG_DONTWAIT, and the rest is only read or written once poll() says it
 * is ready.
 */
static int own_fd(int fd, int mode, bool *ret_sock)
{
	struct stat st, st2;
	char path[32];
	int nfd, ptn;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	/* Opening a pty master again would make a new pty, not reach the same one. */
	if (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(fd) && ioctl(fd, TIOCGPTN, &ptn) < 0)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		nfd = open(path, mode | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (nfd >= 0) {
			if (fstat(nfd, &st2) == 0 && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino &&
			    st2.st_rdev == st.st_rdev) {
				*ret_sock = false;
				return nfd;
			}
			close(nfd);
		}
	}
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return negative_errno();
	*ret_sock = S_ISSOCK(st.st_mode);
	return nfd;
}

/* A new pty: the master non-blocking for the loop, the slave raw so that QEMU sees every byte typed. */
static int open_pty(int *ret_master, int *ret_slave)
{
	_cleanup_close_ int m = -1, s = -1;
	struct termios t;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return negative_errno();
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		return negative_errno();
	/* The slave from the master itself: no path in /dev/pts to look up. */
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return negative_errno();
	if (tcgetattr(s, &t) < 0)
		return negative_errno();
	cfmakeraw(&t);
	/* QEMU turns output processing (OPOST) back on for its stdio; without ONLCR that changes nothing, and the
	 * guest's bytes reach stdout as the guest wrote them. */
	t.c_oflag &= ~(tcflag_t)ONLCR;
	if (tcsetattr(s, TCSANOW, &t) < 0 || fcntl(m, F_SETFL, O_NONBLOCK) < 0)
		return negative_errno();
	*ret_master = TAKE_FD(m);
	*ret_slave = TAKE_FD(s);
	return 0;
}

/*
 * Raw mode on the user's terminal, as QEMU's own -serial stdio did: no echo, no line editing, and no signals from the
 * keyboard (Ctrl-C goes to the guest). Output processing stays, so that vgpuvm's log lines still start at the left.
 * A terminal in the foreground of another process group (`vgpuvm run ... &` in an interactive shell) is the shell's:
 * it is neither read nor changed.
 */
static void take_terminal(struct console *c)
{
	struct termios t;
	pid_t fg;

	if (!isatty(c->in))
		return;
	fg = tcgetpgrp(c->in);
	if (fg >= 0 && fg != getpgrp()) {
		log_info(
		    "stdin is a terminal vgpuvm does not have in the foreground: the serial console takes no input");
		c->in_done = true;
		return;
	}
	if (tcgetattr(c->in, &c->saved) < 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	t.c_oflag = c->saved.c_oflag;
	if (tcsetattr(c->in, TCSANOW, &t) == 0)
		c->raw = true;
}

int console_new(int in_fd, int out_fd, struct console **ret, int *ret_slave)
{
	struct console *c;
	sigset_t mask;
	int slave = -1, r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct console){ .master = -1, .in = -1, .out = -1 };
	sigemptyset(&mask);
	sigaddset(&mask, SIGPIPE);
	sigaddset(&mask, SIGTTIN);
	sigaddset(&mask, SIGTTOU);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		r = negative_errno();
		goto fail;
	}
	r = open_pty(&c->master, &slave);
	if (r < 0)
		goto fail;
	/* A closed stdin is no input; a closed stdout is the same as one that is gone. */
	c->in = in_fd >= 0 ? own_fd(in_fd, O_RDONLY, &c->in_sock) : -EBADF;
	if (c->in < 0) {
		if (c->in != -EBADF) {
			r = c->in;
			goto fail;
		}
		c->in = -1;
		c->in_done = true;
	}
	c->out = out_fd >= 0 ? own_fd(out_fd, O_WRONLY, &c->out_sock) : -EBADF;
	if (c->out < 0) {
		if (c->out != -EBADF) {
			r = c->out;
			goto fail;
		}
		c->out = -1;
		c->out_gone = true;
		log_warning("stdout is closed: the serial console's output is dropped");
	}
	if (!c->in_done)
		take_terminal(c);
	*ret = c;
	*ret_slave = slave;
	return 0;

fail:
	safe_close(slave);
	console_free(c);
	return r;
}

size_t console_pollfds(const struct console *c, struct pollfd *p, size_t max)
{
	size_t n = 0;
	short ev;

	if (!c || max < CONSOLE_POLLFDS_MAX)
		return 0;
	/* Room for one more byte than is read: a Ctrl-A held back from the last read may have to go out too. */
	if (!c->in_done && c->to_guest.len + 1 < sizeof(c->to_guest.data))
		p[n++] = (struct pollfd){ .fd = c->in, .events = POLLIN };
	/* With stdout full, the pty is not read: QEMU waits, nothing is dropped. */
	ev = (!c->master_done && c->to_user.len < sizeof(c->to_user.data) ? POLLIN : 0) |
	     (!c->master_done && c->to_guest.len ? POLLOUT : 0);
	if (ev)
		p[n++] = (struct pollfd){ .fd = c->master, .events = ev };
	if (!c->out_gone && c->to_user.len)
		p[n++] = (struct pollfd){ .fd = c->out, .events = POLLOUT };
	return n;
}

static void put(struct console_buf *b, char ch)
{
	b->data[b->len++] = ch;
}

/* Takes typed bytes through the escapes (only on a terminal in raw mode) into what goes to the guest. */
static unsigned take_input(struct console *c, const char *buf, size_t n)
{
	unsigned ev = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = buf[i];

		if (!c->raw) {
			put(&c->to_guest, ch);
			continue;
		}
		if (!c->escape) {
			if (ch == CTRL_A)
				c->escape = true;
			else
				put(&c->to_guest, ch);
			continue;
		}
		c->escape = false;
		if (ch == 'x')
			ev |= CONSOLE_STOP;
		else if (ch == 'h' || ch == '?')
			ev |= CONSOLE_HELP;
		else if (ch == CTRL_A)
			put(&c->to_guest, CTRL_A);
		else {
			/* Not an escape: both bytes go to the guest, as typed. */
			put(&c->to_guest, CTRL_A);
			put(&c->to_guest, ch);
		}
	}
	/* Nothing can take input once QEMU's side is closed; the escapes still work. */
	if (c->master_done)
		c->to_guest.len = 0;
	return ev;
}

static unsigned read_user(struct console *c)
{
	char buf[CONSOLE_BUF];
	size_t room = sizeof(c->to_guest.data) - c->to_guest.len;
	ssize_t n;

	if (c->in_done || room < 2)
		return 0;
	n = c->in_sock ? recv(c->in, buf, room - 1, MSG_DONTWAIT) : read(c->in, buf, room - 1);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	/* EOF, a hang-up, or EIO for a terminal that went to another process group: stop reading, never spin on it. */
	if (n <= 0) {
		c->in_done = true;
		return 0;
	}
	return take_input(c, buf, (size_t)n);
}

static void write_guest(struct console *c)
{
	ssize_t n;

	if (c->master_done || c->to_guest.len == 0)
		return;
	n = write(c->master, c->to_guest.data, c->to_guest.len);
	if (n < 0) {
		/* EIO: QEMU's side is closed, and what was typed has nowhere to go. */
		if (errno != EINTR && errno != EAGAIN)
			c->to_guest.len = 0;
		return;
	}
	c->to_guest.len -= (size_t)n;
	memmove(c->to_guest.data, c->to_guest.data + n, c->to_guest.len);
}

static void read_guest(struct console *c)
{
	size_t room = sizeof(c->to_user.data) - c->to_user.len;
	ssize_t n;

	if (c->master_done || room == 0)
		return;
	n = read(c->master, c->to_user.data + c->to_user.len, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	/* EIO once every fd of QEMU's side is closed and what it wrote has been read. */
	if (n <= 0) {
		c->master_done = true;
		c->to_guest.len = 0;
		return;
	}
	c->to_user.len += (size_t)n;
}

static void write_user(struct console *c)
{
	ssize_t n;

	if (c->to_user.len == 0)
		return;
	if (!c->out_gone) {
		n = c->out_sock ? send(c->out, c->to_user.data, c->to_user.len, MSG_DONTWAIT | MSG_NOSIGNAL)
				: write(c->out, c->to_user.data, c->to_user.len);
		if (n >= 0) {
			c->to_user.len -= (size_t)n;
			memmove(c->to_user.data, c->to_user.data + n, c->to_user.len);
			return;
		}
		if (errno == EINTR || errno == EAGAIN)
			return;
		log_warning_errno(errno,
				  "Failed to write the serial console to stdout (%m); its output is dropped from "
				  "here on");
		c->out_gone = true;
	}
	/* Dropped, as the warning said: QEMU must not wait for an output that is gone. */
	c->to_user.len = 0;
}

/* Everything that can move now, in an order that makes room before filling it. */
static unsigned pump(struct console *c, bool in_ready, bool out_ready)
{
	unsigned ev = 0;

	if (out_ready)
		write_user(c);
	read_guest(c);
	if (out_ready)
		write_user(c);
	if (in_ready)
		ev = read_user(c);
	write_guest(c);
	return ev;
}

unsigned console_dispatch(struct console *c, const struct pollfd *p, size_t n)
{
	bool in_ready = false, out_ready = false, any = false;

	if (!c)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		any = true;
		if (p[i].fd == c->in)
			in_ready = true;
		else if (p[i].fd == c->out)
			out_ready = true;
	}
	/* The pty is non-blocking: it is tried whenever anything woke up. The user's fds may not be. */
	return any ? pump(c, in_ready, out_ready || c->out_gone) : 0;
}

void console_flush(struct console *c, uint64_t deadline)
{
	size_t left;

	if (!c)
		return;
	while (!c->master_done || (c->to_user.len && !c->out_gone)) {
		struct pollfd p[CONSOLE_POLLFDS_MAX];
		bool out_ready;
		size_t n = 0;
		int r;

		if (!c->master_done && c->to_user.len < sizeof(c->to_user.data))
			p[n++] = (struct pollfd){ .fd = c->master, .events = POLLIN };
		if (c->to_user.len && !c->out_gone)
			p[n++] = (struct pollfd){ .fd = c->out, .events = POLLOUT };
		r = poll(p, n, deadline_poll_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		out_ready = c->out_gone;
		for (size_t i = 0; i < n; i++)
			if (p[i].fd == c->out && p[i].revents)
				out_ready = true;
		pump(c, false, out_ready);
	}
	left = c->to_user.len;
	if (!c->out_gone && (left || !c->master_done))
		log_warning("the serial console's last output is lost (%zu bytes%s): stdout did not take it in time",
			    left, c->master_done ? "" : " and what was still in the pty");
	c->to_user.len = 0;
}

void console_free(struct console *c)
{
	if (!c)
		return;
	/* Restored whatever happened; with SIGTTOU blocked, this works from the background too. */
	if (c->raw && tcsetattr(c->in, TCSANOW, &c->saved) < 0)
		log_warning_errno(errno, "Failed to restore the terminal's settings (%m); `stty sane` or `reset` does");
	safe_close(c->master);
	safe_close(c->in);
	safe_close(c->out);
	free(c);
}
