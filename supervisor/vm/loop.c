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
#include <unistd.h>

#include <json-c/json.h>

#include "profiles/profile.h"
#include "qmp/qmp.h"
#include "qmp/qmp_client.h"
#include "supervisor/log.h"
#include "supervisor/vm/agent.h"
#include "supervisor/vm/control.h"
#include "supervisor/vm/console.h"
#include "supervisor/vm/hints.h"
#include "supervisor/vm/loop.h"
#include "supervisor/vm/loop_private.h"
#include "supervisor/host/host.h"
#include "supervisor/host/memlock.h"
#include "supervisor/host/proc_status.h"
#include "supervisor/launch/helper.h"
#include "supervisor/vm/notify.h"
#include "supervisor/launch/spawn.h"
#include "supervisor/vm/spice.h"
#include "util/fdpass.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/time-util.h"

static double seconds_since(uint64_t t)
{
	return (double)(now_usec() - t) / 1e6;
}

int vm_new(const struct vm_opts *o, struct vm **ret)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int r;

	if (!vm) {
		safe_close(o->out_fd);
		safe_close(o->err_fd);
		safe_close(o->agent_fd);
		return -ENOMEM;
	}
	*vm = (struct vm){
		.profile = o->profile,
		.pid = o->pid,
		.pidfd = o->pidfd,
		.sig_fd = o->sig_fd,
		.qmp_fd = o->qmp_fd,
		.out = { .fd = o->out_fd },
		.err = { .fd = o->err_fd },
		.started_at = now_usec(),
		.ctl = o->ctl,
		.con = o->con,
		.helpers = o->helpers,
		.spice = o->spice,
		.status_fn = o->status_fn,
		.status_userdata = o->status_userdata,
	};
	stop_init(&vm->stop, &o->profile->shutdown, o->profile->start_timeout, o->pid, vm->started_at);
	if ((r = agent_new(o->agent_fd, &vm->agent)) < 0 || (r = qmp_client_new(&vm->qmp)) < 0) {
		vm_free(vm);
		return r;
	}
	/* Said now, read by the agent when the guest opens its port (QEMU holds the bytes until then). */
	agent_hello(vm->agent, vm->started_at);
	*ret = vm;
	return 0;
}

static void pending_free(struct pending *pd)
{
	if (!pd)
		return;
	json_object_put(pd->id);
	safe_close(pd->fd);
	free(pd->dev_id);
	free(pd);
}

void vm_unplug_free(struct unplug *u)
{
	json_object_put(u->id);
	free(u->dev_id);
	free(u);
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	/* Commands QEMU never answered: their clients get an error, their memfds and the fds not yet sent go. */
	while (vm->pending) {
		struct pending *pd = vm->pending;

		vm->pending = pd->next;
		if (vm->pending)
			vm->pending->pprev = &vm->pending;
		if (pd->done)
			pd->done(pd->done_userdata, pd->dev_id, false);
		if (pd->client)
			control_error(vm->ctl, pd->client, pd->id, "GenericError", "QEMU exited before it answered");
		pending_free(pd);
	}
	while (vm->unplugs) {
		struct unplug *u = vm->unplugs;

		vm->unplugs = u->next;
		control_error(vm->ctl, u->client, u->id, "GenericError", "QEMU exited before the device was removed");
		vm_unplug_free(u);
	}
	fdpass_clear(&vm->qmp_fds);
	qmp_client_free(vm->qmp);
	agent_free(vm->agent);
	for (size_t i = 0; i < VM_TAIL_LINES; i++)
		free(vm->tail[i]);
	safe_close(vm->out.fd);
	safe_close(vm->err.fd);
	free(vm);
}

/* Sends a command to QEMU; the reply comes back to on_reply() with its pending entry, which takes fd. */
int vm_send_full(struct vm *vm, const char *command, json_object *args, enum cmd c, uint64_t client, json_object *id,
		 int fd)
{
	struct pending *pd = calloc(1, sizeof(*pd));
	int r;

	if (!pd) {
		safe_close(fd);
		return -ENOMEM;
	}
	*pd = (struct pending){ .cmd = c, .client = client, .id = id ? json_object_get(id) : NULL, .fd = fd };
	r = qmp_client_send(vm->qmp, command, args, pd, NULL);
	if (r < 0) {
		log_warning_errno(r, "Failed to queue QMP command %s: %m", command);
		pending_free(pd);
		return r;
	}
	pd->next = vm->pending;
	if (pd->next)
		pd->next->pprev = &pd->next;
	pd->pprev = &vm->pending;
	vm->pending = pd;
	return 0;
}

static int send_cmd(struct vm *vm, const char *command, enum cmd c)
{
	return vm_send_full(vm, command, NULL, c, 0, NULL, -1);
}

/* Sends a step's command; its reply goes back to the stop machine. */
static int send_step(struct vm *vm, const char *command)
{
	int r = send_cmd(vm, command, CMD_STEP);

	/* vm_send_full() put the new command at the head of the list. */
	if (r >= 0)
		vm->pending->step_command = command;
	return r;
}

/* Carries out what the stop machine asked for, in order. Returns false when a step's own action failed. */
static bool carry_out(struct vm *vm, const struct stop_actions *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		const struct stop_action *a = &acts->a[i];
		json_object *data;

		switch (a->type) {
		case STOP_ACTION_QMP:
			if (send_step(vm, a->command) < 0)
				return false;
			break;
		case STOP_ACTION_AGENT:
			if (agent_shutdown(vm->agent) < 0) {
				log_info("the guest agent cannot be asked to shut the guest down: it is gone");
				return false;
			}
			break;
		case STOP_ACTION_SIGNAL:
			/* ESRCH: QEMU has exited already, and its reaping is on the way. */
			if (pidfd_send_signal_(vm->pidfd, a->signo) < 0 && errno != ESRCH) {
				log_warning_errno(errno, "Failed to send SIG%s to QEMU: %m",
						  sigabbrev_np(a->signo) ?: "?");
				return false;
			}
			break;
		case STOP_ACTION_LOG:
			log_full_errno(a->level, 0, "%s", a->text);
			break;
		case STOP_ACTION_NOTIFY:
			notify("%s", a->text);
			break;
		case STOP_ACTION_STEP:
			data = json_object_new_object();
			json_object_object_add(data, "step", json_object_new_string(a->step));
			json_object_object_add(data, "elapsed", json_object_new_double(a->elapsed));
			control_event(vm->ctl, "STOP_STEP", data);
			json_object_put(data);
			break;
		default:
			break;
		}
	}
	return true;
}

/* Hands an event to the stop machine and carries out its answer; a step whose action failed gives way to the next. */
void vm_feed(struct vm *vm, const struct stop_event *e)
{
	struct stop_actions acts;

	stop_feed(&vm->stop, e, now_usec(), &acts);
	while (!carry_out(vm, &acts))
		stop_feed(&vm->stop, &(struct stop_event){ .type = STOP_EV_FAILED }, now_usec(), &acts);
}

/* What the guest agent's side reports, as events for the stop machine. */
static void agent_events(struct vm *vm, unsigned ev)
{
	if (ev & AGENT_EV_DOWN)
		vm_feed(vm, &(struct stop_event){ .type = STOP_EV_AGENT, .ok = false });
	if (ev & AGENT_EV_UP)
		vm_feed(vm, &(struct stop_event){ .type = STOP_EV_AGENT, .ok = true });
	if (ev & AGENT_EV_REFUSED)
		vm_feed(vm, &(struct stop_event){ .type = STOP_EV_REPLY, .command = "guest-shutdown" });
}

static void start_failed(struct vm *vm, const char *why)
{
	vm_feed(vm, &(struct stop_event){ .type = STOP_EV_START_FAILED, .failure = STOP_FAIL_PROTOCOL, .why = why });
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
	vm_feed(vm, &(struct stop_event){ .type = STOP_EV_RUNNING });
}

static void on_reply(struct vm *vm, struct qmp_msg *m, const struct pending *pd)
{
	enum cmd c = pd->cmd;
	const char *status = NULL;
	json_object *v;

	if (m->type == QMP_MSG_ERROR) {
		switch (c) {
		case CMD_CAPABILITIES:
		case CMD_QUERY_STATUS:
			log_error("QMP %s failed: %s: %s", c == CMD_CAPABILITIES ? "qmp_capabilities" : "query-status",
				  m->error_class, m->error_desc);
			start_failed(vm, "refused a basic QMP command");
			return;
		case CMD_FDSET:
			log_warning("QMP add-fd or remove-fd for a screenshot failed: %s: %s", m->error_class,
				    m->error_desc);
			return;
		case CMD_SPICE:
			/* Never the command's arguments: set_password's are the password. */
			log_warning("QMP %s for the SPICE display failed: %s: %s", pd->step_command ?: "?",
				    m->error_class, m->error_desc);
			return;
		case CMD_DEVICE_DEL:
			vm_unplug_step(vm, pd->dev_id, m, false);
			return;
		default:
			log_warning("QMP %s failed: %s: %s", pd->step_command ?: "?", m->error_class, m->error_desc);
			vm_feed(vm, &(struct stop_event){ .type = STOP_EV_REPLY, .command = pd->step_command });
			return;
		}
	}
	switch (c) {
	case CMD_CAPABILITIES:
		vm->qmp_ready = true;
		log_debug("QMP capabilities negotiated");
		vm_feed(vm, &(struct stop_event){ .type = STOP_EV_QMP_READY });
		send_cmd(vm, "query-status", CMD_QUERY_STATUS);
		vm_set_spice_password(vm);
		break;
	case CMD_QUERY_STATUS:
		if (json_object_object_get_ex(m->data, "status", &v))
			status = json_object_get_string(v);
		snprintf(vm->qemu_status, sizeof(vm->qemu_status), "%s", status ?: "");
		if (status && strcmp(status, "running") == 0) {
			if (!vm->running_at)
				on_running(vm);
		} else if (vm->stop.phase == STOP_PHASE_STARTING)
			/* QEMU announces with RESUME when it starts running; that event asks again. */
			log_info("QEMU reports status \"%s\"; waiting for it to run", status ?: "?");
		break;
	case CMD_STEP:
		vm_feed(vm, &(struct stop_event){ .type = STOP_EV_REPLY, .command = pd->step_command, .ok = true });
		break;
	case CMD_DEVICE_DEL:
		vm_unplug_step(vm, pd->dev_id, m, false);
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
		control_event(vm->ctl, m->name, m->data);
		log_info("event SHUTDOWN: guest=%s reason=%s%s", guest ? "true" : "false", reason,
			 guest ? " (the guest powered off)" : "");
		vm_feed(vm, &(struct stop_event){ .type = STOP_EV_SHUTDOWN, .guest = guest, .reason = reason });
		return;
	}
	/* Control clients see QEMU's events as QEMU sends them. */
	control_event(vm->ctl, m->name, m->data);
	if (strcmp(m->name, "POWERDOWN") == 0) {
		log_info("event POWERDOWN: the guest was sent the power button");
		vm_feed(vm, &(struct stop_event){ .type = STOP_EV_POWERDOWN });
	} else if (strcmp(m->name, "RESET") == 0) {
		const char *reason =
		    m->data && json_object_object_get_ex(m->data, "reason", &v) ? json_object_get_string(v) : "?";
		log_info("event RESET: the guest reset (reason %s)", reason);
	} else if (strcmp(m->name, "DEVICE_DELETED") == 0) {
		const char *dev =
		    m->data && json_object_object_get_ex(m->data, "device", &v) ? json_object_get_string(v) : NULL;

		vm_unplug_step(vm, dev, NULL, true);
	} else if (strcmp(m->name, "STOP") == 0) {
		snprintf(vm->qemu_status, sizeof(vm->qemu_status), "paused");
		log_info("event STOP: the guest is paused");
	} else if (strcmp(m->name, "VSERPORT_CHANGE") == 0) {
		/* The guest agent's port: opened by a (new) agent, or closed as it went away. */
		json_object *id = NULL, *open = NULL;

		if (m->data && json_object_object_get_ex(m->data, "id", &id) &&
		    json_object_is_type(id, json_type_string) && json_object_object_get_ex(m->data, "open", &open) &&
		    json_object_is_type(open, json_type_boolean) &&
		    strcmp(json_object_get_string(id), "vgpuvm-ga") == 0)
			agent_events(vm, agent_port(vm->agent, json_object_get_boolean(open), now_usec()));
	} else if (strcmp(m->name, "RESUME") == 0) {
		snprintf(vm->qemu_status, sizeof(vm->qemu_status), "running");
		log_info("event RESUME: the guest runs");
		if (vm->stop.phase == STOP_PHASE_STARTING && vm->qmp_ready)
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
			if (vm->stop.phase == STOP_PHASE_STARTING && !vm->qmp_ready) {
				log_error("QEMU's monitor sent something that is not QMP: %s",
					  qmp_client_error(vm->qmp));
				start_failed(vm, "does not speak QMP on its monitor");
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
		case QMP_MSG_ERROR: {
			struct pending *pd = cookie;

			*pd->pprev = pd->next;
			if (pd->next)
				pd->next->pprev = pd->pprev;
			if (pd->client)
				vm_on_client_reply(vm, m, pd);
			else
				on_reply(vm, m, pd);
			pending_free(pd);
			break;
		}
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
			vm_feed(vm, &(struct stop_event){ .type = STOP_EV_QMP_LOST });
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
		ssize_t n = fdpass_send(&vm->qmp_fds, vm->qmp_fd, buf, len);

		if (n < 0) {
			if (n == -EINTR)
				continue;
			if (n != -EAGAIN) {
				log_debug("QEMU's monitor is gone: %s", strerror((int)-n));
				vm->qmp_eof = true;
				vm_feed(vm, &(struct stop_event){ .type = STOP_EV_QMP_LOST });
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

	while (read(vm->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		vm_feed(vm, &(struct stop_event){ .type = STOP_EV_SIGNAL, .signo = (int)si.ssi_signo });
}

void vm_stop(struct vm *vm, const char *why, bool force)
{
	vm_feed(vm, &(struct stop_event){ .type = STOP_EV_STOP, .why = why, .force = force, .timeout = -1 });
}

/* The escapes typed on the serial console. */
static void on_console(struct vm *vm, unsigned ev)
{
	if (ev & CONSOLE_HELP)
		log_notice("console: Ctrl-A x stops the VM (as vgpuvm stop does; again, skips a step), Ctrl-A Ctrl-A "
			   "sends Ctrl-A to the guest, Ctrl-A h shows this");
	/* The same as SIGTERM: the power button first; typed again, it skips the step under way. */
	if (ev & CONSOLE_STOP)
		vm_stop(vm, "Ctrl-A x was typed on the console", vm->stop.stop_requested);
}

static void on_helper_line(void *userdata _unused_, const struct helper *h, const char *line)
{
	log_info("%s: %s", h->name, line);
}

/*
 * A helper that ends while the VM runs takes away what the guest uses (its TPM, a filesystem): the VM is stopped
 * cleanly rather than left running without it. One that ends while QEMU stops (swtpm follows QEMU out) is expected.
 */
static void on_helper_exit(struct vm *vm, struct helper *h)
{
	_cleanup_free_ char *tail = helper_tail(h);
	char how[64], why[128];

	helper_describe_exit(h, how, sizeof(how));
	/*
	 * QEMU dying closes the helper's socket (virtiofsd then ends): that death is QEMU's, reaped next. QEMU's fds
	 * close before its pidfd says it ended, so its own state says whether it has begun to exit.
	 */
	if (vm->stop.stop_requested || vm->stop.phase == STOP_PHASE_STOPPING || vm->qmp_eof ||
	    poll(&(struct pollfd){ .fd = vm->pidfd, .events = POLLIN }, 1, 0) > 0 ||
	    proc_dying(host_proc_root(), vm->pid)) {
		log_info("%s (pid %ld) %s", h->name, (long)h->pid, how);
		return;
	}
	log_error("%s (pid %ld), which the VM needs, %s while the VM ran%s%s", h->name, (long)h->pid, how,
		  tail ? "; its last words:\n" : "", tail ?: "");
	if (!vm->helper_failed)
		vm->helper_failed = h->name;
	snprintf(why, sizeof(why), "%s (pid %ld) %s", h->name, (long)h->pid, how);
	vm_stop(vm, why, false);
}

/* Takes in what the helpers said, and reaps those that have exited. */
static void check_helpers(struct vm *vm, const struct pollfd *p, size_t n)
{
	for (size_t i = 0, k = 0; vm->helpers && i < vm->helpers->n && k < n; i++) {
		struct helper *h = &vm->helpers->h[i];
		bool gone = false;

		if (h->pidfd >= 0 && !h->exited)
			gone = p[k++].revents & POLLIN;
		if (h->out_fd >= 0 && k < n && p[k++].revents)
			helper_read(h, on_helper_line, vm);
		if (!gone)
			continue;
		/* QEMU's last events first: a SHUTDOWN says this end was expected. */
		read_qmp(vm);
		helper_read(h, on_helper_line, vm);
		if (helper_reap(h) > 0)
			on_helper_exit(vm, h);
	}
}

/* The helpers' pidfds and output, in the order check_helpers() reads them. */
static size_t helper_pollfds(struct vm *vm, struct pollfd *p, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; vm->helpers && i < vm->helpers->n; i++) {
		struct helper *h = &vm->helpers->h[i];

		if (h->pidfd >= 0 && !h->exited && n < max)
			p[n++] = (struct pollfd){ .fd = h->pidfd, .events = POLLIN };
		if (h->out_fd >= 0 && n < max)
			p[n++] = (struct pollfd){ .fd = h->out_fd, .events = POLLIN };
	}
	return n;
}

static int reap(struct vm *vm)
{
	siginfo_t si = {};

	if (waitid((idtype_t)P_PIDFD, (id_t)vm->pidfd, &si, WEXITED | WNOHANG) < 0)
		return negative_errno();
	if (si.si_pid == 0)
		return 0;
	vm->exit_info = si;
	if (si.si_code == CLD_EXITED)
		log_info("QEMU (pid %ld) exited with status %d", (long)vm->pid, si.si_status);
	else
		log_info("QEMU (pid %ld) was killed by SIG%s", (long)vm->pid, sigabbrev_np(si.si_status) ?: "?");
	vm_feed(vm, &(struct stop_event){ .type = STOP_EV_EXITED, .how = si.si_code, .status = si.si_status });
	return 1;
}

int vm_run(struct vm *vm)
{
	while (vm->stop.phase != STOP_PHASE_EXITED) {
		struct pollfd p[5 + 1 + 1 + CONSOLE_POLLFDS_MAX + CONTROL_CLIENTS_MAX + 2 * HELPERS_MAX];
		const char *buf;
		size_t len, n = 0, i_qmp = SIZE_MAX, i_out = SIZE_MAX, i_err = SIZE_MAX, i_sig, i_pid, i_ctl, n_ctl;
		size_t i_con, n_con, i_help, n_help, i_spice = n, n_spice = 0, i_agent, n_agent;
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
		i_con = n;
		n_con = console_pollfds(vm->con, p + n, ELEMENTSOF(p) - n);
		n += n_con;
		i_ctl = n;
		n_ctl = control_pollfds(vm->ctl, p + n, ELEMENTSOF(p) - n);
		n += n_ctl;
		i_help = n;
		n_help = helper_pollfds(vm, p + n, ELEMENTSOF(p) - n);
		n += n_help;
		/* Viewers wait in the backlog until QEMU's monitor can take them, and while the fd queue is full. */
		if (vm->qmp_ready && !vm->qmp_eof && vm->qmp_fds.n < FDPASS_MAX) {
			i_spice = n;
			n_spice = spice_pollfds(vm->spice, p + n, ELEMENTSOF(p) - n);
			n += n_spice;
		}
		i_agent = n;
		n_agent = agent_pollfds(vm->agent, p + n, ELEMENTSOF(p) - n);
		n += n_agent;

		r = poll(p, n, deadline_poll_ms(vm->stop.deadline));
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
		on_console(vm, console_dispatch(vm->con, p + i_con, n_con));
		control_dispatch(vm->ctl, p + i_ctl, n_ctl);
		check_helpers(vm, p + i_help, n_help);
		if (n_spice && p[i_spice].revents & POLLIN)
			vm_serve_spice(vm);
		agent_events(vm, agent_dispatch(vm->agent, p + i_agent, n_agent, now_usec()));
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
		if (vm->stop.phase != STOP_PHASE_EXITED && now_usec() >= vm->stop.deadline) {
			vm_feed(vm, &(struct stop_event){ .type = STOP_EV_DEADLINE });
			write_qmp(vm);
		}
	}
	return 0;
}

void vm_outcome(const struct vm *vm, struct vm_outcome *ret)
{
	*ret = (struct vm_outcome){
		.code = stop_exit_code(&vm->stop),
		.stop_requested = vm->stop.stop_requested,
		.guest_off = vm->stop.guest_off,
		.ran = vm->running_at != 0,
		.start_failed = vm->stop.failure != STOP_FAIL_NONE,
		.exit_info = vm->exit_info,
		.helper_failed = vm->helper_failed,
	};
}

const char *vm_hint(const struct vm *vm)
{
	for (size_t i = 0; i < VM_TAIL_LINES; i++) {
		const char *line = vm->tail[(vm->tail_next + i) % VM_TAIL_LINES], *h;

		if (line && (h = hint_for(line)))
			return h;
	}
	return NULL;
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
