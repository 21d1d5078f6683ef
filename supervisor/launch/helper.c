/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor/host/host.h"
#include "supervisor/launch/helper.h"
#include "supervisor/launch/spawn.h"
#include "util/macro.h"
#include "util/time-util.h"

uint64_t helper_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	char state = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%ld/stat", host_proc_root(), (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The command's name may hold spaces and parentheses: the fields after it begin at the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &state, &t) != 2)
		return 0;
	/* A zombie has ended already; only its reaping is left, to whoever its parent is now. */
	return state == 'Z' || state == 'X' ? 0 : t;
}

int helper_start(struct helpers *hs, const char *name, const struct spawn_helper_opts *o)
{
	struct spawned s;
	struct helper *h;
	int r, status_fd;

	if (hs->n >= HELPERS_MAX)
		return -E2BIG;
	r = spawn_helper_begin(o, &s, &status_fd);
	if (r < 0)
		return r;
	h = &hs->h[hs->n++];
	*h = (struct helper){ .pid = s.pid, .pidfd = s.pidfd, .out_fd = s.stderr_fd, .status_fd = status_fd };
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->root = o->keep_caps != 0;
	/* Set at the fork; the exec does not change it. */
	h->start_time = helper_start_time(s.pid);
	return 0;
}

int helpers_confirm(struct helpers *hs, char **ret_error)
{
	int r = 0;

	for (size_t i = 0; i < hs->n; i++) {
		struct helper *h = &hs->h[i];
		struct spawned s = { .pid = h->pid, .pidfd = h->pidfd, .stdout_fd = -1, .stderr_fd = h->out_fd };
		int k;

		if (h->status_fd < 0)
			continue;
		k = spawn_helper_finish(&s, TAKE_FD(h->status_fd), h->name, r == 0 ? ret_error : NULL);
		if (k == 0)
			continue;
		/* spawn_helper_finish() reaped it and closed its fds. */
		h->pidfd = s.pidfd;
		h->out_fd = s.stderr_fd;
		h->exited = true;
		h->exit_info = (siginfo_t){ .si_code = CLD_EXITED, .si_status = 127 };
		if (r == 0)
			r = k;
	}
	return r;
}

/* The copy is the helper's (h->tail, freed by helpers_clear()); the analyzer loses it in the ring. */
ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
static void keep_line(struct helper *h, const char *line, helper_line_fn fn, void *userdata)
{
	free(h->tail[h->tail_next]);
	h->tail[h->tail_next] = strdup(line);
	h->tail_next = (h->tail_next + 1) % HELPER_TAIL_LINES;
	if (fn)
		fn(userdata, h, line);
}
ANALYZER_IGNORE_END

void helper_read(struct helper *h, helper_line_fn fn, void *userdata)
{
	while (h->out_fd >= 0) {
		ssize_t n = read(h->out_fd, h->buf + h->len, sizeof(h->buf) - 1 - h->len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (h->len > 0) {
				h->buf[h->len] = 0;
				keep_line(h, h->buf, fn, userdata);
				h->len = 0;
			}
			h->out_fd = safe_close(h->out_fd);
			return;
		}
		h->len += (size_t)n;
		h->buf[h->len] = 0;
		while ((nl = memchr(h->buf, '\n', h->len))) {
			*nl = 0;
			keep_line(h, h->buf, fn, userdata);
			h->len -= (size_t)(nl + 1 - h->buf);
			memmove(h->buf, nl + 1, h->len);
		}
		/* A line longer than the buffer is cut into pieces. */
		if (h->len == sizeof(h->buf) - 1) {
			h->buf[h->len] = 0;
			keep_line(h, h->buf, fn, userdata);
			h->len = 0;
		}
	}
}

int helper_reap(struct helper *h)
{
	siginfo_t si = {};

	if (h->exited)
		return 1;
	if (h->pidfd < 0)
		return -EBADF;
	if (waitid((idtype_t)P_PIDFD, (id_t)h->pidfd, &si, WEXITED | WNOHANG) < 0)
		return negative_errno();
	if (si.si_pid == 0)
		return 0;
	h->exit_info = si;
	h->exited = true;
	h->pidfd = safe_close(h->pidfd);
	return 1;
}

void helper_describe_exit(const struct helper *h, char *buf, size_t size)
{
	if (!h->exited)
		snprintf(buf, size, "is running");
	else if (h->exit_info.si_code == CLD_EXITED)
		snprintf(buf, size, "exited with status %d", h->exit_info.si_status);
	else
		snprintf(buf, size, "was killed by SIG%s", sigabbrev_np(h->exit_info.si_status) ?: "?");
}

char *helper_tail(const struct helper *h)
{
	char *s = NULL;

	for (size_t i = 0; i < HELPER_TAIL_LINES; i++) {
		const char *line = h->tail[(h->tail_next + i) % HELPER_TAIL_LINES];
		char *t;

		if (!line)
			continue;
		if (asprintf(&t, "%s%s  %s: %s", s ?: "", s ? "\n" : "", h->name, line) < 0)
			break;
		free(s);
		s = t;
	}
	return s;
}

/* Waits until every helper has exited or the deadline passes, reading their output meanwhile. */
static void wait_all(struct helpers *hs, uint64_t deadline, helper_line_fn fn, void *userdata)
{
	for (;;) {
		struct pollfd p[HELPERS_MAX * 2];
		size_t n = 0, running = 0;

		for (size_t i = 0; i < hs->n; i++) {
			struct helper *h = &hs->h[i];

			/* Reaped first, then read: whatever it wrote before it exited is in the pipe by then. */
			if (helper_reap(h) == 0) {
				running++;
				p[n++] = (struct pollfd){ .fd = h->pidfd, .events = POLLIN };
			}
			helper_read(h, fn, userdata);
			if (h->out_fd >= 0 && !h->exited)
				p[n++] = (struct pollfd){ .fd = h->out_fd, .events = POLLIN };
		}
		if (running == 0 || now_usec() >= deadline)
			return;
		if (poll(p, n, deadline_poll_ms(deadline)) < 0 && errno != EINTR)
			return;
	}
}

int helpers_stop(struct helpers *hs, uint64_t deadline, helper_line_fn fn, void *userdata)
{
	int killed = 0;

	for (size_t i = 0; i < hs->n; i++)
		if (helper_reap(&hs->h[i]) == 0)
			pidfd_send_signal_(hs->h[i].pidfd, SIGTERM);
	wait_all(hs, deadline, fn, userdata);
	for (size_t i = 0; i < hs->n; i++)
		if (helper_reap(&hs->h[i]) == 0 && pidfd_send_signal_(hs->h[i].pidfd, SIGKILL) == 0)
			killed++;
	if (killed)
		wait_all(hs, USEC_INFINITY, fn, userdata);
	return killed;
}

void helpers_clear(struct helpers *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		struct helper *h = &hs->h[i];

		if (h->pidfd >= 0 && !h->exited) {
			siginfo_t si;

			pidfd_send_signal_(h->pidfd, SIGKILL);
			waitid((idtype_t)P_PIDFD, (id_t)h->pidfd, &si, WEXITED);
		}
		safe_close(h->pidfd);
		safe_close(h->out_fd);
		safe_close(h->status_fd);
		for (size_t k = 0; k < HELPER_TAIL_LINES; k++)
			free(h->tail[k]);
	}
	*hs = (struct helpers){};
}

int helper_run(const char *name, const struct spawn_helper_opts *o, uint64_t deadline, char **ret_output,
	       char **ret_error)
{
	struct helpers hs = {};
	struct helper *h;
	int r;

	r = helper_start(&hs, name, o);
	if (r == 0)
		r = helpers_confirm(&hs, ret_error);
	if (r < 0) {
		helpers_clear(&hs);
		return r;
	}
	h = &hs.h[0];
	wait_all(&hs, deadline, NULL, NULL);
	if (!h->exited) {
		helpers_clear(&hs);
		return -ETIMEDOUT;
	}
	/* Whatever it wrote before it exited is in the pipe still. */
	helper_read(h, NULL, NULL);
	if (ret_output)
		*ret_output = helper_tail(h);
	r = h->exit_info.si_code == CLD_EXITED ? h->exit_info.si_status : 128 + h->exit_info.si_status;
	helpers_clear(&hs);
	return r;
}

int helper_kill_leftover(pid_t pid, uint64_t start_time)
{
	_cleanup_close_ int pidfd = -1;

	if (pid <= 0 || start_time == 0)
		return 0;
	/* The pidfd first, then the start time: the process checked is the one signalled, whatever happens to the pid.
	 */
	pidfd = pidfd_open_(pid);
	if (pidfd < 0 || helper_start_time(pid) != start_time)
		return 0;
	return pidfd_send_signal_(pidfd, SIGKILL) == 0 ? 1 : 0;
}
