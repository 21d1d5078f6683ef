/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the serial console's relay (supervisor/console.c): bytes both ways between the user's side (pipes, or
 * a pty standing in for the user's terminal) and the pty QEMU gets, the Ctrl-A escapes, raw mode and its restoring, a
 * slow or vanished stdout, and EOF. Each test drives the relay the way the loop does: console_pollfds(), poll(),
 * console_dispatch(); and looks only at what comes out of the fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/vm/console.h"
#include "util/macro.h"
#include "util/time-util.h"

/* One round of the loop: returns the escapes typed, and whether poll() saw anything in *ret_woke. */
static unsigned step(struct console *c, int timeout_ms, bool *ret_woke)
{
	struct pollfd p[CONSOLE_POLLFDS_MAX];
	size_t n = console_pollfds(c, p, ELEMENTSOF(p));
	int r = poll(p, n, timeout_ms);

	assert_true(r >= 0);
	if (ret_woke)
		*ret_woke = r > 0;
	return console_dispatch(c, p, n);
}

/* Runs rounds until want bytes have come out of fd (non-blocking) or two seconds pass; returns how many came. */
static size_t collect(struct console *c, int fd, char *buf, size_t want, unsigned *ev)
{
	uint64_t deadline = now_usec() + 2 * USEC_PER_SEC;
	size_t got = 0;

	while (got < want && now_usec() < deadline) {
		ssize_t n;

		*ev |= step(c, 20, NULL);
		n = read(fd, buf + got, want - got);
		if (n > 0)
			got += (size_t)n;
	}
	return got;
}

static void set_nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* A pty pair: *ret_master and its slave. */
static void make_pty(int *ret_master, int *ret_slave)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	assert_true(m >= 0);
	assert_int_equal(unlockpt(m), 0);
	*ret_slave = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(*ret_slave >= 0);
	*ret_master = m;
}

/* stdin and stdout are pipes (a service, a script): bytes pass unchanged both ways, Ctrl-A is no escape, and the
 * caller's own file descriptions are not made non-blocking. */
static void test_relay_pipes(void **state)
{
	struct console *c = NULL;
	int in[2], out[2], slave;
	char buf[64] = {};
	unsigned ev = 0;
	bool woke;

	(void)state;
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(console_new(in[0], out[1], &c, &slave), 0);
	assert_false(console_interactive(c));
	set_nonblock(slave);
	set_nonblock(out[0]);

	assert_int_equal(write(in[1], "ping\001x\n", 7), 7);
	assert_int_equal(collect(c, slave, buf, 7, &ev), 7);
	assert_memory_equal(buf, "ping\001x\n", 7);
	assert_int_equal(ev, 0);

	/* The guest's bytes as it sent them: the pty adds no carriage return. */
	assert_int_equal(write(slave, "pong\n", 5), 5);
	assert_int_equal(collect(c, out[0], buf, 5, &ev), 5);
	assert_memory_equal(buf, "pong\n", 5);

	/* At EOF, stdin is no longer polled: poll() sleeps instead of spinning on the hang-up. */
	close(in[1]);
	step(c, 50, NULL);
	step(c, 100, &woke);
	assert_false(woke);

	assert_int_equal(fcntl(in[0], F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(fcntl(out[1], F_GETFL) & O_NONBLOCK, 0);
	console_free(c);
	close(slave);
	close(in[0]);
	close(out[0]);
	close(out[1]);
}

/* stdin is a terminal: raw mode (output processing kept) for the run, the escapes, and the settings restored. */
static void test_terminal(void **state)
{
	struct termios before, during, after;
	struct console *c = NULL;
	int um, us, slave;
	char buf[64] = {};
	unsigned ev = 0;

	(void)state;
	make_pty(&um, &us);
	set_nonblock(um);
	assert_int_equal(tcgetattr(us, &before), 0);
	assert_true(before.c_lflag & ICANON);
	assert_int_equal(console_new(us, us, &c, &slave), 0);
	assert_true(console_interactive(c));
	set_nonblock(slave);

	assert_int_equal(tcgetattr(us, &during), 0);
	assert_int_equal(during.c_lflag & (ICANON | ECHO | ISIG), 0);
	assert_int_equal(during.c_oflag, before.c_oflag);

	/* Ctrl-A Ctrl-A is one Ctrl-A; Ctrl-C is a byte for the guest; Ctrl-A h and Ctrl-A x are for vgpuvm. */
	assert_int_equal(write(um, "a\001\001b\003c\001h\001x", 10), 10);
	assert_int_equal(collect(c, slave, buf, 5, &ev), 5);
	assert_memory_equal(buf, "a\001b\003c", 5);
	assert_int_equal(ev, CONSOLE_STOP | CONSOLE_HELP);

	/* An escape split across two reads, and one that is not an escape: both bytes go on. */
	ev = 0;
	assert_int_equal(write(um, "\001", 1), 1);
	step(c, 50, NULL);
	assert_int_equal(write(um, "z", 1), 1);
	assert_int_equal(collect(c, slave, buf, 2, &ev), 2);
	assert_memory_equal(buf, "\001z", 2);
	assert_int_equal(ev, 0);

	/* What the guest says reaches the terminal, which still turns \n into \r\n. */
	assert_int_equal(write(slave, "hi\n", 3), 3);
	assert_int_equal(collect(c, um, buf, 4, &ev), 4);
	assert_memory_equal(buf, "hi\r\n", 4);

	console_free(c);
	assert_int_equal(tcgetattr(us, &after), 0);
	assert_int_equal(after.c_iflag, before.c_iflag);
	assert_int_equal(after.c_oflag, before.c_oflag);
	assert_int_equal(after.c_cflag, before.c_cflag);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_memory_equal(after.c_cc, before.c_cc, sizeof(before.c_cc));
	close(slave);
	close(us);
	close(um);
}

/* A stdout that does not read: the relay stops reading the pty (QEMU waits), the loop never blocks, and once stdout
 * reads again every byte arrives, in order. */
static void test_slow_stdout(void **state)
{
	static char sent[256 * 1024], got[sizeof(sent)];
	struct console *c = NULL;
	int out[2], devnull, slave;
	size_t n_sent = 0, n_got = 0;
	uint64_t deadline;
	unsigned ev = 0;
	bool woke;

	(void)state;
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (char)(i * 7 + i / 251);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	fcntl(out[1], F_SETPIPE_SZ, 4096);
	set_nonblock(out[0]);
	assert_int_equal(console_new(devnull, out[1], &c, &slave), 0);
	set_nonblock(slave);

	/* Fill everything: the pipe, the relay's buffer, the pty. Each round returns at once. */
	alarm(20);
	for (int stalls = 0; stalls < 3 && n_sent < sizeof(sent);) {
		ssize_t n = write(slave, sent + n_sent, sizeof(sent) - n_sent);

		if (n > 0)
			n_sent += (size_t)n;
		else
			stalls++;
		ev |= step(c, 10, NULL);
	}
	assert_true(n_sent < sizeof(sent));
	/* Nothing can move: poll() sleeps. */
	step(c, 100, &woke);
	assert_false(woke);

	deadline = now_usec() + 10 * USEC_PER_SEC;
	while (n_got < sizeof(sent) && now_usec() < deadline) {
		ssize_t n = read(out[0], got + n_got, sizeof(got) - n_got);

		if (n > 0)
			n_got += (size_t)n;
		if (n_sent < sizeof(sent) && (n = write(slave, sent + n_sent, sizeof(sent) - n_sent)) > 0)
			n_sent += (size_t)n;
		ev |= step(c, 10, NULL);
	}
	alarm(0);
	assert_int_equal(n_got, sizeof(sent));
	assert_memory_equal(got, sent, sizeof(sent));
	assert_int_equal(ev, 0);
	console_free(c);
	close(slave);
	close(devnull);
	close(out[0]);
	close(out[1]);
}

/* A stdout whose reader is gone: no SIGPIPE, the output is dropped (with a warning), and QEMU is never held up. */
static void test_stdout_gone(void **state)
{
	static char junk[64 * 1024];
	struct console *c = NULL;
	int out[2], devnull, slave;
	size_t n_sent = 0;
	uint64_t deadline;

	(void)state;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(console_new(devnull, out[1], &c, &slave), 0);
	close(out[0]);
	set_nonblock(slave);
	deadline = now_usec() + 5 * USEC_PER_SEC;
	while (n_sent < 4 * sizeof(junk) && now_usec() < deadline) {
		size_t want = 4 * sizeof(junk) - n_sent;
		ssize_t n = write(slave, junk, want < sizeof(junk) ? want : sizeof(junk));

		if (n > 0)
			n_sent += (size_t)n;
		step(c, 10, NULL);
	}
	assert_int_equal(n_sent, 4 * sizeof(junk));
	console_free(c);
	close(slave);
	close(devnull);
	close(out[1]);
}

/* Once QEMU is gone, what it wrote last still reaches stdout, without waiting out the deadline. */
static void test_flush(void **state)
{
	struct console *c = NULL;
	int out[2], devnull, slave;
	char buf[16] = {};
	uint64_t t;

	(void)state;
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(console_new(devnull, out[1], &c, &slave), 0);
	assert_int_equal(write(slave, "bye\n", 4), 4);
	close(slave);
	t = now_usec();
	console_flush(c, t + 5 * USEC_PER_SEC);
	assert_true(now_usec() - t < 2 * USEC_PER_SEC);
	set_nonblock(out[0]);
	assert_int_equal(read(out[0], buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "bye\n", 4);
	console_free(c);
	close(devnull);
	close(out[0]);
	close(out[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_pipes), cmocka_unit_test(test_terminal), cmocka_unit_test(test_slow_stdout),
		cmocka_unit_test(test_stdout_gone), cmocka_unit_test(test_flush),
	};

	return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
