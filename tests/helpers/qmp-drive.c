/* SPDX-License-Identifier: MIT */
/*
 * Runs a QEMU (real or fake) the way vgpuvm does, with a connected QMP socket on fd 3, and drives it through a script
 * of steps given on the command line, so that shell tests can talk QMP without socat or python and without racing
 * for a socket path. Each step waits for its event with a deadline; nothing sleeps.
 *
 *   qmp-drive [-t SECONDS] [-l CONSOLE_LOG] STEP... -- COMMAND [ARG...]
 *
 * COMMAND gets fd 3 (the QMP socket), stdin from /dev/null, stdout to a pipe read here (the serial console of a real
 * QEMU; copied to CONSOLE_LOG, else to stderr), and this program's stderr. Steps, in order:
 *
 *   send=JSON        write JSON and a newline to QMP
 *   expect=TEXT      read QMP messages until one contains TEXT
 *   next=TEXT        the next QMP message must contain TEXT
 *   bytes=N          read until N bytes have come on QMP in all, newline or not
 *   quiet=SECONDS    no QMP message may come for that long (how absence is tested: a bounded wait, not a sleep)
 *   console=TEXT     wait until the child's stdout shows TEXT (after the previous console match)
 *   signal=SIG       send SIG (TERM, KILL, INT, HUP or a number) through the child's pidfd
 *   close            close our end of the QMP socket
 *   eof              wait until the child closes its end
 *   exit=N|SIG       wait until the child exits with status N, or is killed by SIG (KILL, TERM, ...)
 *
 * Stdout gets "pid PID" for the child first, "-> JSON" for each message sent, "<- MESSAGE" for each received (long
 * ones shortened), "console: TEXT" for each console match, and "exit N" or "killed by SIG" when the child is reaped.
 * Exit status: 0 when every step passed, 1 when one failed (the reason on stderr), 64 for bad usage. A child still
 * running at the end is killed, and it is killed too if this program dies (PR_SET_PDEATHSIG), so that a failing test
 * leaves no QEMU behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/time-util.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define SHOW_MAX 300

struct drive {
	pid_t pid;
	int pidfd;
	int qmp;
	int console;
	int console_log;
	bool exited;
	int status; /* As from waitid: si_code and si_status. */
	int code;
	/* QMP input not yet split into lines, and the complete lines not yet consumed by a step. */
	char *in;
	size_t in_len;
	size_t in_total;
	bool qmp_eof;
	char **lines;
	size_t n_lines;
	/* Everything the console printed, and where the next console step starts looking. */
	char *con;
	size_t con_len;
	size_t con_pos;
};

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "TERM", SIGTERM }, { "KILL", SIGKILL }, { "INT", SIGINT },   { "HUP", SIGHUP },
	{ "QUIT", SIGQUIT }, { "ABRT", SIGABRT }, { "SEGV", SIGSEGV }, { "USR1", SIGUSR1 },
};

static int parse_signal(const char *s)
{
	char *end;
	long n;

	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ELEMENTSOF(signals); i++)
		if (strcmp(s, signals[i].name) == 0)
			return signals[i].sig;
	n = strtol(s, &end, 10);
	if (end == s || *end || n <= 0 || n >= 65)
		return -EINVAL;
	return (int)n;
}

static const char *signal_name(int sig)
{
	for (size_t i = 0; i < ELEMENTSOF(signals); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return "?";
}

static int spawn(struct drive *d, char **argv)
{
	int sv[2], out[2], status[2];
	char c;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(status, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int err, null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_DFL);
		/*
		 * Stdin, stdout and stderr are open when we start, so every descriptor made above is 3 or more and no
		 * dup2 here overwrites one that a later one needs.
		 */
		if (null >= 0 && dup2(null, 0) >= 0 && dup2(out[1], 1) >= 0 && dup2(sv[1], 3) >= 0) {
			/*
			 * Whatever else we inherited (a test runner's pipes) must not reach the child; marking it
			 * close-on-exec rather than closing it keeps the status pipe usable until execvp.
			 */
			close_range(4, ~0U, CLOSE_RANGE_CLOEXEC);
			execvp(argv[0], argv);
		}
		err = errno;
		(void)!write(status[1], &err, sizeof(err));
		_exit(127);
	}
	close(sv[1]);
	close(out[1]);
	close(status[1]);
	d->pid = pid;
	d->qmp = sv[0];
	d->console = out[0];
	d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (d->pidfd < 0)
		return -errno;
	/* The status pipe closes on a successful exec; a failed one writes its errno first. */
	if (read(status[0], &c, 1) == 1) {
		close(status[0]);
		fprintf(stderr, "qmp-drive: cannot execute %s\n", argv[0]);
		return -ENOEXEC;
	}
	close(status[0]);
	fcntl(d->qmp, F_SETFL, O_NONBLOCK);
	fcntl(d->console, F_SETFL, O_NONBLOCK);
	return 0;
}

static void show(const char *prefix, const char *s, size_t len)
{
	if (len <= SHOW_MAX)
		printf("%s%.*s\n", prefix, (int)len, s);
	else
		printf("%s%.*s... (%zu bytes)\n", prefix, SHOW_MAX, s, len);
	fflush(stdout);
}

/* Splits the QMP input into lines; QEMU ends every message with "\r\n". */
static int split_lines(struct drive *d)
{
	char *nl;

	while ((nl = memchr(d->in, '\n', d->in_len))) {
		size_t len = nl - d->in, rest = d->in_len - len - 1;
		char **l;

		if (len > 0 && d->in[len - 1] == '\r')
			len--;
		l = reallocarray(d->lines, d->n_lines + 1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		d->lines = l;
		d->lines[d->n_lines] = strndup(d->in, len);
		if (!d->lines[d->n_lines])
			return -ENOMEM;
		show("<- ", d->in, len);
		d->n_lines++;
		memmove(d->in, nl + 1, rest);
		d->in_len = rest;
	}
	return 0;
}

/* Reads what is there, without blocking. Returns 0, or a negative errno. */
static int read_qmp(struct drive *d)
{
	for (;;) {
		char buf[65536];
		ssize_t n;
		char *p;

		if (d->qmp < 0 || d->qmp_eof)
			return 0;
		n = read(d->qmp, buf, sizeof(buf));
		if (n < 0 && errno != ECONNRESET)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		/* A peer that dies with our input unread resets the connection: that is its end of the stream too. */
		if (n <= 0) {
			d->qmp_eof = true;
			return 0;
		}
		p = realloc(d->in, d->in_len + n);
		if (!p)
			return -ENOMEM;
		d->in = p;
		memcpy(d->in + d->in_len, buf, n);
		d->in_len += n;
		d->in_total += n;
		if (split_lines(d) < 0)
			return -ENOMEM;
	}
}

static int read_console(struct drive *d)
{
	for (;;) {
		char buf[65536];
		ssize_t n;
		char *p;

		if (d->console < 0)
			return 0;
		n = read(d->console, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (n == 0) {
			close(d->console);
			d->console = -1;
			return 0;
		}
		(void)!write(d->console_log, buf, n);
		p = realloc(d->con, d->con_len + n + 1);
		if (!p)
			return -ENOMEM;
		d->con = p;
		memcpy(d->con + d->con_len, buf, n);
		d->con_len += n;
		d->con[d->con_len] = '\0';
	}
}

/*
 * Reaps the child once its pidfd says it is gone. QMP and the console are drained first, so that the last messages
 * QEMU wrote before exiting (the SHUTDOWN event) are seen before its exit.
 */
static int reap(struct drive *d)
{
	siginfo_t si = { 0 };
	int r;

	r = read_qmp(d);
	if (r >= 0)
		r = read_console(d);
	if (r < 0)
		return r;
	if (waitid((idtype_t)P_PIDFD, d->pidfd, &si, WEXITED) < 0)
		return -errno;
	d->exited = true;
	d->code = si.si_code;
	d->status = si.si_status;
	if (si.si_code == CLD_EXITED)
		printf("exit %d\n", si.si_status);
	else
		printf("killed by %s\n", signal_name(si.si_status));
	fflush(stdout);
	return 0;
}

static void drive_done(struct drive *d)
{
	for (size_t i = 0; i < d->n_lines; i++)
		free(d->lines[i]);
	free(d->lines);
	free(d->in);
	free(d->con);
	if (d->qmp >= 0)
		close(d->qmp);
	if (d->console >= 0)
		close(d->console);
	if (d->pidfd >= 0)
		close(d->pidfd);
}

/* One round of waiting: returns 1 if something happened, 0 at the deadline, or a negative errno. */
static int pump(struct drive *d, uint64_t deadline)
{
	struct pollfd pfd[3] = {
		{ .fd = d->qmp_eof ? -1 : d->qmp, .events = POLLIN },
		{ .fd = d->console, .events = POLLIN },
		{ .fd = d->exited ? -1 : d->pidfd, .events = POLLIN },
	};
	int r;

	r = poll(pfd, ELEMENTSOF(pfd), deadline_poll_ms(deadline));
	if (r < 0)
		return errno == EINTR ? 1 : -errno;
	if (r == 0)
		return 0;
	/* QMP before the pidfd, as in the supervisor. */
	if (pfd[0].revents) {
		r = read_qmp(d);
		if (r < 0)
			return r;
	}
	if (pfd[1].revents) {
		r = read_console(d);
		if (r < 0)
			return r;
	}
	if (pfd[2].revents) {
		r = reap(d);
		if (r < 0)
			return r;
	}
	return 1;
}

/* Takes the oldest unconsumed QMP line; NULL if there is none yet. */
static char *take_line(struct drive *d)
{
	char *l;

	if (d->n_lines == 0)
		return NULL;
	l = d->lines[0];
	memmove(d->lines, d->lines + 1, (d->n_lines - 1) * sizeof(*d->lines));
	d->n_lines--;
	return l;
}

static bool exit_matches(const struct drive *d, const char *want)
{
	char *end;
	long n;
	int sig;

	n = strtol(want, &end, 10);
	if (end != want && *end == '\0')
		return d->code == CLD_EXITED && d->status == n;
	sig = parse_signal(want);
	return sig > 0 && (d->code == CLD_KILLED || d->code == CLD_DUMPED) && d->status == sig;
}

/* Runs one step. Returns 0 when it passed, or a negative errno with the reason printed. */
static int run_step(struct drive *d, const char *step, double timeout)
{
	uint64_t deadline = deadline_after((uint64_t)(timeout * USEC_PER_SEC));
	const char *arg = strchr(step, '=');
	int r = 0;

	arg = arg ? arg + 1 : "";
	if (strncmp(step, "send=", 5) == 0) {
		_cleanup_free_ char *msg = NULL;
		size_t off = 0, len;

		if (asprintf(&msg, "%s\n", arg) < 0)
			return -ENOMEM;
		len = strlen(msg);
		show("-> ", arg, strlen(arg));
		/* The socket is non-blocking for reading; a full send buffer is waited out with poll. */
		while (off < len) {
			struct pollfd pfd = { .fd = d->qmp, .events = POLLOUT };
			ssize_t n = send(d->qmp, msg + off, len - off, MSG_NOSIGNAL);

			if (n >= 0) {
				off += n;
				continue;
			}
			if (errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "qmp-drive: %s: %m\n", step);
				return -errno;
			}
			if (poll(&pfd, 1, deadline_poll_ms(deadline)) == 0)
				break;
		}
		if (off == len)
			return 0;
	} else if (strncmp(step, "expect=", 7) == 0 || strncmp(step, "next=", 5) == 0) {
		bool next = step[0] == 'n';

		for (;;) {
			_cleanup_free_ char *l = take_line(d);

			if (l && strstr(l, arg))
				return 0;
			if (l && next) {
				fprintf(stderr, "qmp-drive: %s: got %.*s\n", step, SHOW_MAX, l);
				return -EBADMSG;
			}
			if (l)
				continue;
			if (d->qmp_eof)
				break;
			r = pump(d, deadline);
			if (r <= 0)
				break;
		}
	} else if (strncmp(step, "bytes=", 6) == 0) {
		size_t want = strtoull(arg, NULL, 10);

		while (d->in_total < want && !d->qmp_eof) {
			r = pump(d, deadline);
			if (r <= 0)
				break;
		}
		if (d->in_total >= want)
			return 0;
		fprintf(stderr, "qmp-drive: %s: only %zu bytes came\n", step, d->in_total);
		return -ETIMEDOUT;
	} else if (strncmp(step, "quiet=", 6) == 0) {
		uint64_t until = deadline_after((uint64_t)(strtod(arg, NULL) * USEC_PER_SEC));
		size_t before = d->n_lines;

		while (d->n_lines == before && !d->qmp_eof) {
			r = pump(d, until);
			if (r <= 0)
				break;
		}
		if (r < 0) {
			fprintf(stderr, "qmp-drive: %s: %s\n", step, strerror(-r));
			return r;
		}
		if (d->n_lines == before)
			return 0;
		fprintf(stderr, "qmp-drive: %s: got %.*s\n", step, SHOW_MAX, d->lines[before]);
		return -EBADMSG;
	} else if (strncmp(step, "console=", 8) == 0) {
		for (;;) {
			char *hit = d->con ? strstr(d->con + d->con_pos, arg) : NULL;

			if (hit) {
				d->con_pos = hit - d->con + strlen(arg);
				printf("console: %s\n", arg);
				fflush(stdout);
				return 0;
			}
			if (d->console < 0)
				break;
			r = pump(d, deadline);
			if (r <= 0)
				break;
		}
	} else if (strncmp(step, "signal=", 7) == 0) {
		int sig = parse_signal(arg);

		if (sig < 0) {
			fprintf(stderr, "qmp-drive: %s: unknown signal\n", step);
			return -EINVAL;
		}
		if (syscall(SYS_pidfd_send_signal, d->pidfd, sig, NULL, 0) < 0) {
			fprintf(stderr, "qmp-drive: %s: %m\n", step);
			return -errno;
		}
		return 0;
	} else if (strcmp(step, "close") == 0) {
		close(d->qmp);
		d->qmp = -1;
		d->qmp_eof = true;
		return 0;
	} else if (strcmp(step, "eof") == 0) {
		while (!d->qmp_eof) {
			r = pump(d, deadline);
			if (r <= 0)
				break;
		}
		if (d->qmp_eof)
			return 0;
	} else if (strncmp(step, "exit=", 5) == 0) {
		while (!d->exited) {
			r = pump(d, deadline);
			if (r <= 0)
				break;
		}
		if (d->exited && exit_matches(d, arg))
			return 0;
		if (d->exited) {
			fprintf(stderr, "qmp-drive: %s: the child %s %d\n", step,
				d->code == CLD_EXITED ? "exited with status" : "was killed by signal", d->status);
			return -ECHILD;
		}
	} else {
		fprintf(stderr, "qmp-drive: unknown step '%s'\n", step);
		return -EINVAL;
	}
	if (r < 0) {
		fprintf(stderr, "qmp-drive: %s: %s\n", step, strerror(-r));
		return r;
	}
	fprintf(stderr, "qmp-drive: %s: not seen within %gs%s%s\n", step, timeout, d->qmp_eof ? " (QMP closed)" : "",
		d->exited ? " (the child is gone)" : "");
	return -ETIMEDOUT;
}

int main(int argc, char **argv)
{
	struct drive d = { .pidfd = -1, .qmp = -1, .console = -1, .console_log = STDERR_FILENO };
	double timeout = 30;
	int c, first_step, dashdash = -1, r = 0;

	while ((c = getopt(argc, argv, "+t:l:")) >= 0) {
		switch (c) {
		case 't':
			timeout = strtod(optarg, NULL);
			break;
		case 'l':
			d.console_log = open(optarg, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
			if (d.console_log < 0) {
				fprintf(stderr, "qmp-drive: %s: %m\n", optarg);
				return 64;
			}
			break;
		default:
			return 64;
		}
	}
	first_step = optind;
	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dashdash = i;
			break;
		}
	if (dashdash < 0 || dashdash + 1 >= argc || timeout <= 0) {
		fprintf(stderr, "Usage: qmp-drive [-t SECONDS] [-l CONSOLE_LOG] STEP... -- COMMAND [ARG...]\n");
		return 64;
	}
	/* A child that closes its QMP end must not kill us while we send. */
	signal(SIGPIPE, SIG_IGN);

	r = spawn(&d, argv + dashdash + 1);
	if (r < 0) {
		fprintf(stderr, "qmp-drive: cannot start %s: %s\n", argv[dashdash + 1], strerror(-r));
		return 1;
	}
	printf("pid %d\n", d.pid);
	fflush(stdout);
	for (int i = first_step; i < dashdash; i++) {
		r = run_step(&d, argv[i], timeout);
		if (r < 0) {
			fprintf(stderr, "qmp-drive: step %d failed: %s\n", i - first_step + 1, argv[i]);
			break;
		}
	}
	if (!d.exited) {
		syscall(SYS_pidfd_send_signal, d.pidfd, SIGKILL, NULL, 0);
		if (reap(&d) < 0)
			waitpid(d.pid, NULL, 0);
	}
	drive_done(&d);
	return r < 0 ? 1 : 0;
}
