/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include <json-c/json.h>

#include "profiles/profile.h"
#include "qmp/qmp.h"
#include "qmp/qmp_client.h"
#include "supervisor/log.h"
#include "supervisor/loop.h"
#include "supervisor/memlock.h"
#include "supervisor/spawn.h"
#include "util/macro.h"
#include "util/time-util.h"

/* What each command sent to QEMU was for; the QMP client hands the cookie back with the reply. */
enum cmd {
	CMD_CAPABILITIES = 1,
	CMD_QUERY_STATUS,
	CMD_POWERDOWN,
	CMD_QUIT,
};

#define COOKIE(c) ((void *)(uintptr_t)(c))

static const char *const phase_names[VM_PHASE_MAX] = {
	[VM_STARTING] = "starting",
	[VM_RUNNING] = "running",
	[VM_STOPPING] = "stopping",
	[VM_EXITED] = "exited",
};

const char *vm_phase_to_string(enum vm_phase p)
{
	return p < VM_PHASE_MAX ? phase_names[p] : NULL;
}

static double seconds_since(uint64_t t)
{
	return (double)(now_usec() - t) / 1e6;
}

int vm_init(struct vm *vm, const struct profile *p, pid_t pid, int pidfd, int sig_fd, int qmp_fd, int out_fd,
	    int err_fd)
{
	int r;

	*vm = (struct vm){
		.profile = p,
		.pid = pid,
		.pidfd = pidfd,
		.sig_fd = sig_fd,
		.qmp_fd = qmp_fd,
		.out = { .fd = out_fd },
		.err = { .fd = err_fd },
		.phase = VM_STARTING,
		.start_timeout = p->start_timeout * USEC_PER_SEC,
		.started_at = now_usec(),
	};
	vm->deadline = vm->started_at + vm->start_timeout;
	if ((r = qmp_client_new(&vm->qmp)) < 0)
		return r;
	return 0;
}

void vm_done(struct vm *vm)
{
	qmp_client_free(vm->qmp);
	vm->qmp = NULL;
	for (size_t i = 0; i < VM_TAIL_LINES; i++) {
		free(vm->tail[i]);
		vm->tail[i] = NULL;
	}
}

static int send_cmd(struct vm *vm, const char *command, enum cmd c)
{
	int r = qmp_client_send(vm->qmp, command, NULL, COOKIE(c), NULL);

	if (r < 0)
		log_warning_errno(r, "Failed to queue QMP command %s: %m", command);
	return r;
}

/*
 * Moves on to the next shutdown step that applies: each needs what it talks through (the guest must be running for
 * the power button, QMP must be up for quit) and a timeout above 0. The last step, SIGKILL, always applies.
 */
static void advance(struct vm *vm, const char *why)
{
	const struct profile_shutdown *t = &vm->profile->shutdown;

	if (vm->phase == VM_EXITED || vm->step >= STOP_KILL)
		return;
	if (vm->phase != VM_STOPPING) {
		vm->phase = VM_STOPPING;
		vm->stop_started_at = now_usec();
	}
	while (vm->step < STOP_KILL) {
		double at = seconds_since(vm->stop_started_at);

		vm->step++;
		switch (vm->step) {
		case STOP_POWERDOWN:
			if (!vm->qmp_ready || vm->qmp_eof || !vm->running_at || t->powerdown_timeout == 0)
				continue;
			if (send_cmd(vm, "system_powerdown", CMD_POWERDOWN) < 0)
				continue;
			log_info("shutdown: %s; pressing the power button (system_powerdown), waiting up to %u s for the "
				 "guest to power off",
				 why, t->powerdown_timeout);
			vm->deadline = deadline_after(t->powerdown_timeout * USEC_PER_SEC);
			return;
		case STOP_QUIT:
			if (!vm->qmp_ready || vm->qmp_eof || t->quit_timeout == 0)
				continue;
			if (send_cmd(vm, "quit", CMD_QUIT) < 0)
				continue;
			log_info("shutdown: %s; asking QEMU to quit (QMP quit) after %.3f s, waiting up to %u s", why, at,
				 t->quit_timeout);
			vm->deadline = deadline_after(t->quit_timeout * USEC_PER_SEC);
			return;
		case STOP_TERM:
			if (t->kill_timeout == 0)
				continue;
			log_info("shutdown: %s; sending SIGTERM to QEMU (pid %ld) after %.3f s, waiting up to %u s", why,
				 (long)vm->pid, at, t->kill_timeout);
			if (pidfd_send_signal_(vm->pidfd, SIGTERM) < 0 && errno != ESRCH)
				continue;
			vm->deadline = deadline_after(t->kill_timeout * USEC_PER_SEC);
			return;
		default:
			log_warning("shutdown: %s; killing QEMU (pid %ld, SIGKILL) after %.3f s", why, (long)vm->pid, at);
			pidfd_send_signal_(vm->pidfd, SIGKILL);
			vm->deadline = USEC_INFINITY;
			return;
		}
	}
}

/* Each step after the first is taken because the one before did not end QEMU in time. */
static const char *const timeout_reason[STOP_STEP_MAX] = {
	[STOP_POWERDOWN] = "the guest did not power off in time",
	[STOP_QUIT] = "QEMU did not quit in time",
	[STOP_TERM] = "QEMU did not exit on SIGTERM in time",
};

static void start_failed(struct vm *vm, enum vm_failure f, const char *why)
{
	if (vm->failure == VM_FAIL_NONE)
		vm->failure = f;
	log_error("QEMU (pid %ld) %s; stopping it", (long)vm->pid, why);
	/* A QEMU that is not running properly gets no power button: it goes straight to quit or signals. */
	if (vm->step < STOP_POWERDOWN)
		vm->step = STOP_POWERDOWN;
	advance(vm, "QEMU did not start properly");
}

static void on_running(struct vm *vm)
{
	uint64_t soft, hard;
	char a[32], b[32];

	vm->running_at = now_usec();
	log_info("QEMU (pid %ld) is running, %.3f s after it was started", (long)vm->pid,
		 (double)(vm->running_at - vm->started_at) / 1e6);
	if (vm->profile->vgpu && memlock_read(vm->pid, &soft, &hard) == 0) {
		memlock_format(soft, a, sizeof(a));
		memlock_format(hard, b, sizeof(b));
		log_info("QEMU's locked-memory limit: %s (soft), %s (hard)", a, b);
	}
	if (vm->phase == VM_STARTING) {
		vm->phase = VM_RUNNING;
		vm->deadline = USEC_INFINITY;
	}
	/* A stop asked for while QEMU was starting starts now, with the power button. */
	if (vm->stop_requested && vm->step == STOP_NONE)
		advance(vm, "a stop was asked for while starting");
}

static void on_reply(struct vm *vm, struct qmp_msg *m, enum cmd c)
{
	const char *status = NULL;
	json_object *v;

	if (m->type == QMP_MSG_ERROR) {
		switch (c) {
		case CMD_CAPABILITIES:
		case CMD_QUERY_STATUS:
			log_error("QMP %s failed: %s: %s", c == CMD_CAPABILITIES ? "qmp_capabilities" : "query-status",
				  m->error_class, m->error_desc);
			start_failed(vm, VM_FAIL_PROTOCOL, "refused a basic QMP command");
			return;
		default:
			log_warning("QMP %s failed: %s: %s", c == CMD_POWERDOWN ? "system_powerdown" : "quit",
				    m->error_class, m->error_desc);
			if (vm->phase == VM_STOPPING)
				advance(vm, "the command failed");
			return;
		}
	}
	switch (c) {
	case CMD_CAPABILITIES:
		vm->qmp_ready = true;
		log_debug("QMP capabilities negotiated");
		if (vm->stop_requested && vm->step == STOP_NONE) {
			advance(vm, "a stop was asked for while starting");
			return;
		}
		send_cmd(vm, "query-status", CMD_QUERY_STATUS);
		break;
	case CMD_QUERY_STATUS:
		if (json_object_object_get_ex(m->data, "status", &v))
			status = json_object_get_string(v);
		if (status && strcmp(status, "running") == 0) {
			if (!vm->running_at)
				on_running(vm);
		} else if (vm->phase == VM_STARTING)
			/* QEMU announces with RESUME when it starts running; that event asks again. */
			log_info("QEMU reports status \"%s\"; waiting for it to run", status ?: "?");
		break;
	default:
		break;
	}
}

static void on_event(struct vm *vm, struct qmp_msg *m)
{
	json_object *v;

	if (strcmp(m->name, "SHUTDOWN") == 0) {
		bool guest = false;
		const char *reason = "?";

		if (m->data && json_object_object_get_ex(m->data, "guest", &v))
			guest = json_object_get_boolean(v);
		if (m->data && json_object_object_get_ex(m->data, "reason", &v))
			reason = json_object_get_string(v);
		snprintf(vm->shutdown_reason, sizeof(vm->shutdown_reason), "%s", reason);
		vm->guest_shutdown = guest;
		log_info("event SHUTDOWN: guest=%s reason=%s%s", guest ? "true" : "false", reason,
			 guest ? " (the guest powered off)" : "");
		/* QEMU exits by itself after SHUTDOWN. Should it hang there, the steps after quit take over. */
		if (vm->phase != VM_STOPPING) {
			vm->phase = VM_STOPPING;
			vm->stop_started_at = now_usec();
			vm->step = STOP_QUIT;
			vm->deadline = deadline_after(vm->profile->shutdown.quit_timeout * USEC_PER_SEC);
		}
	} else if (strcmp(m->name, "POWERDOWN") == 0)
		log_info("event POWERDOWN: the guest was sent the power button");
	else if (strcmp(m->name, "RESET") == 0) {
		const char *reason = m->data && json_object_object_get_ex(m->data, "reason", &v) ? json_object_get_string(v) : "?";
		log_info("event RESET: the guest reset (reason %s)", reason);
	} else if (strcmp(m->name, "STOP") == 0)
		log_info("event STOP: the guest is paused");
	else if (strcmp(m->name, "RESUME") == 0) {
		log_info("event RESUME: the guest runs");
		if (vm->phase == VM_STARTING && vm->qmp_ready)
			send_cmd(vm, "query-status", CMD_QUERY_STATUS);
	} else
		log_debug("event %s", m->name);
}

static void handle_qmp_messages(struct vm *vm)
{
	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		void *cookie = NULL;
		int r = qmp_client_next(vm->qmp, &m, &cookie);

		if (r == 0)
			return;
		if (r < 0) {
			if (r == -ENOMEM) {
				log_error_errno(r, "Out of memory reading QMP.");
				return;
			}
			if (vm->phase == VM_STARTING && !vm->qmp_ready) {
				log_error("QEMU's monitor sent something that is not QMP: %s", qmp_client_error(vm->qmp));
				start_failed(vm, VM_FAIL_PROTOCOL, "does not speak QMP on its monitor");
				return;
			}
			log_warning("Ignoring a bad message from QEMU's monitor: %s", qmp_client_error(vm->qmp));
			continue;
		}
		switch (m->type) {
		case QMP_MSG_GREETING:
			log_debug("QMP greeting received after %.3f s", seconds_since(vm->started_at));
			send_cmd(vm, "qmp_capabilities", CMD_CAPABILITIES);
			break;
		case QMP_MSG_EVENT:
			on_event(vm, m);
			break;
		case QMP_MSG_RETURN:
		case QMP_MSG_ERROR:
			on_reply(vm, m, (enum cmd)(uintptr_t)cookie);
			break;
		default:
			break;
		}
	}
}

/* Reads what QEMU's monitor has sent, until it would block. */
static void read_qmp(struct vm *vm)
{
	char buf[65536];

	while (!vm->qmp_eof) {
		ssize_t n = recv(vm->qmp_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != ECONNRESET)
				log_warning_errno(errno, "Failed to read from QEMU's monitor: %m");
			if (errno == EAGAIN)
				return;
			n = 0;
		}
		if (n == 0) {
			vm->qmp_eof = true;
			log_debug("QEMU closed its monitor");
			return;
		}
		if (qmp_client_feed(vm->qmp, buf, (size_t)n) < 0) {
			log_error("Out of memory reading QMP");
			return;
		}
		handle_qmp_messages(vm);
	}
}

static void write_qmp(struct vm *vm)
{
	const char *buf;
	size_t len;

	qmp_client_output(vm->qmp, &buf, &len);
	while (len > 0 && !vm->qmp_eof) {
		ssize_t n = send(vm->qmp_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				log_debug("QEMU's monitor is gone: %s", strerror(errno));
				vm->qmp_eof = true;
			}
			return;
		}
		qmp_client_output_consume(vm->qmp, (size_t)n);
		qmp_client_output(vm->qmp, &buf, &len);
	}
}

static void keep_line(struct vm *vm, const char *line)
{
	free(vm->tail[vm->tail_next]);
	vm->tail[vm->tail_next] = strdup(line);
	vm->tail_next = (vm->tail_next + 1) % VM_TAIL_LINES;
	log_info("qemu: %s", line);
}

/* Relays QEMU's output line by line; a line longer than the buffer is cut into pieces. */
static void read_output(struct vm *vm, struct vm_output *o)
{
	for (;;) {
		ssize_t n = read(o->fd, o->buf + o->len, sizeof(o->buf) - 1 - o->len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (o->len > 0) {
				o->buf[o->len] = 0;
				keep_line(vm, o->buf);
				o->len = 0;
			}
			close(o->fd);
			o->fd = -1;
			return;
		}
		o->len += (size_t)n;
		o->buf[o->len] = 0;
		while ((nl = memchr(o->buf, '\n', o->len))) {
			*nl = 0;
			keep_line(vm, o->buf);
			o->len -= (size_t)(nl + 1 - o->buf);
			memmove(o->buf, nl + 1, o->len);
		}
		if (o->len == sizeof(o->buf) - 1) {
			o->buf[o->len] = 0;
			keep_line(vm, o->buf);
			o->len = 0;
		}
	}
}

static void read_signals(struct vm *vm)
{
	struct signalfd_siginfo si;

	while (read(vm->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		const char *name = sigabbrev_np((int)si.ssi_signo);
		char why[64];

		snprintf(why, sizeof(why), "got SIG%s%s", name ?: "?", vm->stop_requested ? " again" : "");
		/* The guest is already powering off by itself: a first signal just lets it finish. */
		if (!vm->stop_requested && vm->phase == VM_STOPPING) {
			vm->stop_requested = true;
			log_info("shutdown: %s; the guest is already shutting down", why);
			continue;
		}
		/*
		 * Otherwise the next step: the power button for a running guest; for a QEMU still starting, whose guest
		 * cannot react yet, quit or SIGTERM. A second signal skips the step under way.
		 */
		vm->stop_requested = true;
		advance(vm, why);
	}
}

static int reap(struct vm *vm)
{
	siginfo_t si = {};

	if (waitid((idtype_t)P_PIDFD, (id_t)vm->pidfd, &si, WEXITED | WNOHANG) < 0)
		return negative_errno();
	if (si.si_pid == 0)
		return 0;
	vm->exit_info = si;
	vm->phase = VM_EXITED;
	if (si.si_code == CLD_EXITED)
		log_info("QEMU (pid %ld) exited with status %d", (long)vm->pid, si.si_status);
	else
		log_info("QEMU (pid %ld) was killed by SIG%s", (long)vm->pid, sigabbrev_np(si.si_status) ?: "?");
	if (vm->stop_started_at)
		log_info("shutdown took %.3f s", seconds_since(vm->stop_started_at));
	return 1;
}

int vm_run(struct vm *vm)
{
	while (vm->phase != VM_EXITED) {
		struct pollfd p[5];
		const char *buf;
		size_t len, n = 0, i_qmp = SIZE_MAX, i_out = SIZE_MAX, i_err = SIZE_MAX, i_sig, i_pid;
		int r;

		qmp_client_output(vm->qmp, &buf, &len);
		/* The monitor comes first, so that the last events are read before QEMU is reaped. */
		if (!vm->qmp_eof) {
			i_qmp = n;
			p[n++] = (struct pollfd){ .fd = vm->qmp_fd, .events = POLLIN | (len ? POLLOUT : 0) };
		}
		if (vm->out.fd >= 0) {
			i_out = n;
			p[n++] = (struct pollfd){ .fd = vm->out.fd, .events = POLLIN };
		}
		if (vm->err.fd >= 0) {
			i_err = n;
			p[n++] = (struct pollfd){ .fd = vm->err.fd, .events = POLLIN };
		}
		i_sig = n;
		p[n++] = (struct pollfd){ .fd = vm->sig_fd, .events = POLLIN };
		i_pid = n;
		p[n++] = (struct pollfd){ .fd = vm->pidfd, .events = POLLIN };

		r = poll(p, n, deadline_poll_ms(vm->deadline));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(errno, "poll() failed: %m");
		}
		if (i_qmp != SIZE_MAX && p[i_qmp].revents & POLLOUT)
			write_qmp(vm);
		if (i_qmp != SIZE_MAX && p[i_qmp].revents & (POLLIN | POLLHUP | POLLERR))
			read_qmp(vm);
		if (i_out != SIZE_MAX && p[i_out].revents)
			read_output(vm, &vm->out);
		if (i_err != SIZE_MAX && p[i_err].revents)
			read_output(vm, &vm->err);
		if (p[i_sig].revents & POLLIN)
			read_signals(vm);
		/* Commands queued while handling the above go out now rather than after another poll(). */
		write_qmp(vm);
		if (p[i_pid].revents & POLLIN) {
			/* QEMU is gone: take in whatever it said last before reaping it. */
			read_qmp(vm);
			if (vm->out.fd >= 0)
				read_output(vm, &vm->out);
			if (vm->err.fd >= 0)
				read_output(vm, &vm->err);
			if ((r = reap(vm)) < 0)
				return log_error_errno(r, "waitid() failed: %m");
		}
		/* Checked on every round, so that a chatty QEMU cannot hold a deadline off. */
		if (vm->phase != VM_EXITED && vm->deadline != USEC_INFINITY && now_usec() >= vm->deadline) {
			if (vm->phase == VM_STARTING) {
				char why[96];
				snprintf(why, sizeof(why), "did not report running within %" PRIu64 " s%s",
					 vm->start_timeout / USEC_PER_SEC, vm->qmp_ready ? "" : " (no QMP greeting)");
				start_failed(vm, VM_FAIL_START_TIMEOUT, why);
			} else
				advance(vm, timeout_reason[vm->step < STOP_STEP_MAX ? vm->step : 0] ?: "timeout");
			write_qmp(vm);
		}
	}
	return 0;
}

int vm_exit_code(const struct vm *vm)
{
	const siginfo_t *si = &vm->exit_info;

	if (vm->failure == VM_FAIL_PROTOCOL || vm->failure == VM_FAIL_START_TIMEOUT)
		return EX_PROTOCOL;
	/* A stop that was asked for ended the VM as asked, however many steps it took. */
	if (vm->stop_requested)
		return 0;
	if (si->si_code == CLD_EXITED)
		return si->si_status;
	return 128 + si->si_status;
}

char *vm_tail(const struct vm *vm)
{
	char *s = NULL;

	for (size_t i = 0; i < VM_TAIL_LINES; i++) {
		const char *line = vm->tail[(vm->tail_next + i) % VM_TAIL_LINES];
		char *t;

		if (!line)
			continue;
		if (asprintf(&t, "%s%s  qemu: %s", s ?: "", s ? "\n" : "", line) < 0)
			break;
		free(s);
		s = t;
	}
	return s;
}
