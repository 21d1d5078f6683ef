/* SPDX-License-Identifier: MIT */
/*
 * The loop's side of the control socket's commands: status, stop, screenshot, qmp passthrough, the devices that
 * vgpuvm usb adds and removes, and the SPICE viewers handed over to QEMU. What the loop itself does is in loop.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "qmp/qmp_client.h"
#include "supervisor/log.h"
#include "supervisor/vm/agent.h"
#include "supervisor/vm/control.h"
#include "supervisor/vm/control_args.h"
#include "supervisor/vm/loop.h"
#include "supervisor/vm/loop_private.h"
#include "supervisor/vm/passthrough.h"
#include "supervisor/vm/shot.h"
#include "supervisor/vm/spice.h"
#include "util/fdpass.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/time-util.h"

/* SPICE connections handed to QEMU per poll round; the rest wait in the backlog for the next. */
#define SPICE_ACCEPT_MAX 4

/* The unplug of dev_id, unlinked from the list when unlink is set; NULL when there is none. */
static struct unplug *find_unplug(struct vm *vm, const char *dev_id, bool unlink)
{
	for (struct unplug **p = &vm->unplugs; dev_id && *p; p = &(*p)->next) {
		struct unplug *u = *p;

		if (strcmp(u->dev_id, dev_id) != 0)
			continue;
		if (unlink)
			*p = u->next;
		return u;
	}
	return NULL;
}

/* An unplug ends when device_del failed, or when it returned and DEVICE_DELETED came, in either order. */
void vm_unplug_step(struct vm *vm, const char *dev_id, const struct qmp_msg *reply, bool deleted)
{
	struct unplug *u = find_unplug(vm, dev_id, false);
	bool failed = reply && reply->type == QMP_MSG_ERROR;

	if (!u)
		return;
	u->acked |= reply != NULL;
	u->deleted |= deleted;
	if (!failed && !(u->acked && u->deleted))
		return;
	find_unplug(vm, dev_id, true);
	/* The device's own fd went with it; the fdset's copy goes too, so that QEMU holds nothing of it. */
	if (!failed && u->fdset >= 0) {
		_cleanup_json_ json_object *rm = json_object_new_object();

		if (rm) {
			json_object_object_add(rm, "fdset-id", json_object_new_int64(u->fdset));
			vm_send_full(vm, "remove-fd", rm, CMD_FDSET, 0, NULL, -1);
		}
	}
	if (u->done)
		u->done(u->userdata, u->dev_id, !failed);
	if (failed)
		control_error(vm->ctl, u->client, u->id, reply->error_class, reply->error_desc);
	else
		control_return(vm->ctl, u->client, u->id, NULL);
	vm_unplug_free(u);
}

/* Answers a control client from QEMU's reply to the command sent on its behalf. */
void vm_on_client_reply(struct vm *vm, struct qmp_msg *m, struct pending *pd)
{
	json_object *v, *st = NULL;

	if (pd->cmd == CMD_CLIENT_STATUS) {
		const char *status = m->type == QMP_MSG_RETURN && json_object_object_get_ex(m->data, "status", &v)
					 ? json_object_get_string(v)
					 : NULL;
		st = vm->status_fn(vm->status_userdata,
				   &(struct vm_state){ vm->stop.phase, vm->pid, vm->started_at, vm->agent }, status);
		control_return(vm->ctl, pd->client, pd->id, st);
		json_object_put(st);
		return;
	}
	if (pd->done)
		pd->done(pd->done_userdata, pd->dev_id, m->type != QMP_MSG_ERROR);
	if (m->type == QMP_MSG_ERROR) {
		control_error(vm->ctl, pd->client, pd->id, m->error_class, m->error_desc);
		return;
	}
	if (pd->cmd == CMD_CLIENT_SCREENSHOT) {
		uint64_t size;
		int fd, r = shot_seal(pd->fd, &fd, &size);

		if (r < 0) {
			log_warning("screenshot: %s", shot_strerror(r));
			control_error(vm->ctl, pd->client, pd->id, "GenericError", shot_strerror(r));
			return;
		}
		st = json_object_new_object();
		json_object_object_add(st, "size", json_object_new_int64((int64_t)size));
		json_object_object_add(st, "format", json_object_new_string("png"));
		/* The client gets the sealed screenshot itself, with the reply: no path to open. */
		control_return_fd(vm->ctl, pd->client, pd->id, st, fd);
		json_object_put(st);
		return;
	}
	control_return(vm->ctl, pd->client, pd->id, m->data);
}

static void serve_stop(struct vm *vm, uint64_t client, struct qmp_msg *m)
{
	const char *why = NULL;
	bool force;
	int timeout;

	if (control_stop_args(m->data, &force, &timeout, &why) < 0) {
		control_error(vm->ctl, client, m->id, "GenericError", why);
		return;
	}
	control_return(vm->ctl, client, m->id, NULL);
	vm_feed(vm, &(struct stop_event){ .type = STOP_EV_STOP,
					  .why = force ? "a forced stop was asked for" : "a stop was asked for",
					  .force = force,
					  .timeout = timeout });
}

/* Sends a command for the SPICE display; its name is kept for a failure's message. */
static void send_spice(struct vm *vm, const char *command, json_object *args)
{
	if (vm_send_full(vm, command, args, CMD_SPICE, 0, NULL, -1) >= 0)
		vm->pending->step_command = command;
	json_object_put(args);
}

/* SPICE over TCP: QEMU refuses every client until it has the password, which goes only this way. */
void vm_set_spice_password(struct vm *vm)
{
	const char *pw = spice_password(vm->spice);
	json_object *a;

	if (!pw)
		return;
	a = json_object_new_object();
	json_object_object_add(a, "protocol", json_object_new_string("spice"));
	json_object_object_add(a, "password", json_object_new_string(pw));
	send_spice(vm, "set_password", a);
}

/*
 * Hands QEMU the viewers waiting on the SPICE socket: getfd lends it the connection (sent with the command's first
 * byte), add_client gives it to the SPICE server, which takes it out of the monitor's list.
 */
void vm_serve_spice(struct vm *vm)
{
	/* A few a round: a viewer opens one connection per channel (main, display, inputs, cursor, sound...). */
	for (unsigned i = 0; i < SPICE_ACCEPT_MAX && vm->qmp_fds.n < FDPASS_MAX; i++) {
		struct spice_refusal no = {};
		uint64_t serial;
		char name[32];
		const char *buf;
		size_t at;
		json_object *a;
		int fd = spice_accept(vm->spice, &serial, &no);

		if (fd == -EACCES) {
			if (no.due && no.count <= 1)
				log_warning(
				    "spice: refused a connection from uid %ld: not root, the VM's owner or a member "
				    "of its group",
				    (long)no.uid);
			else if (no.due)
				log_warning("spice: refused %u connections from uid %ld in the last minute", no.count,
					    (long)no.uid);
			continue;
		}
		if (fd < 0) {
			if (fd != -EAGAIN)
				log_warning_errno(fd, "spice: accept() failed: %m");
			return;
		}
		snprintf(name, sizeof(name), "vgpuvm-spice%" PRIu64, serial);
		qmp_client_output(vm->qmp, &buf, &at);
		a = json_object_new_object();
		json_object_object_add(a, "fdname", json_object_new_string(name));
		send_spice(vm, "getfd", a);
		if (fdpass_add(&vm->qmp_fds, at, fd) < 0)
			continue;
		a = json_object_new_object();
		json_object_object_add(a, "protocol", json_object_new_string("spice"));
		json_object_object_add(a, "fdname", json_object_new_string(name));
		send_spice(vm, "add_client", a);
		log_info("spice: a viewer connected (%s)", name);
	}
}

/*
 * QEMU writes a screenshot into a memfd of ours, never into a path: add-fd lends it a write-only fd of the memfd (sent
 * with the command's own bytes), screendump writes to /dev/fdset/N, remove-fd takes the fd back. QMP runs commands in
 * order, so the three go at once; the reply to screendump hands the client the memfd, sealed (on_client_reply).
 */
static void serve_screenshot(struct vm *vm, uint64_t client, struct qmp_msg *m)
{
	struct shot_args a = {};
	int memfd = -1, wfd = -1;
	const char *buf;
	size_t at;

	if (vm->qmp_fds.n >= FDPASS_MAX || shot_new(&memfd, &wfd) < 0 || shot_args_new(vm->fdsets++, &a) < 0) {
		safe_close(memfd);
		safe_close(wfd);
		control_error(vm->ctl, client, m->id, "GenericError", "could not ask QEMU for a screenshot; try again");
		return;
	}
	/* The fd goes with add-fd's first byte: where the output ends now. */
	qmp_client_output(vm->qmp, &buf, &at);
	if (vm_send_full(vm, "add-fd", a.add_fd, CMD_FDSET, 0, NULL, -1) < 0)
		wfd = safe_close(wfd);
	/* Without its fd, add-fd fails, and so does the screendump after it. */
	if (wfd < 0 || fdpass_add(&vm->qmp_fds, at, wfd) < 0 ||
	    vm_send_full(vm, "screendump", a.screendump, CMD_CLIENT_SCREENSHOT, client, m->id, TAKE_FD(memfd)) < 0)
		control_error(vm->ctl, client, m->id, "GenericError", "could not ask QEMU for a screenshot");
	vm_send_full(vm, "remove-fd", a.remove_fd, CMD_FDSET, 0, NULL, -1);
	safe_close(memfd);
	shot_args_done(&a);
}

bool vm_qmp_up(const struct vm *vm)
{
	return vm->qmp_ready && !vm->qmp_eof;
}

/*
 * A command for a device, whose reply goes to done and then to the client. The copy of dev_id is the pending
 * command's (freed with it); the analyzer loses it through vm->pending.
 */
ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
static int send_device(struct vm *vm, const char *command, json_object *args, enum cmd c, uint64_t client,
		       json_object *id, const char *dev_id, vm_device_fn done, void *userdata)
{
	char *d = strdup(dev_id);
	int r;

	if (!d)
		return -ENOMEM;
	r = vm_send_full(vm, command, args, c, client, id, -1);
	if (r < 0) {
		free(d);
		return r;
	}
	/* vm_send_full() put the new command at the head of the list. */
	vm->pending->done = done;
	vm->pending->done_userdata = userdata;
	vm->pending->dev_id = d;
	return 0;
}
ANALYZER_IGNORE_END

int vm_device_add(struct vm *vm, uint64_t client, json_object *id, json_object *args, const char *path_key, int fd,
		  vm_device_fn done, void *userdata)
{
	_cleanup_json_ json_object *add = json_object_new_object(), *rm = json_object_new_object();
	int64_t set = SHOT_FDSET_BASE + vm->fdsets++;
	json_object *v;
	char path[64];
	const char *buf;
	size_t at;
	int r;

	if (!add || !rm || vm->qmp_fds.n >= FDPASS_MAX || !json_object_object_get_ex(args, "id", &v)) {
		safe_close(fd);
		control_error(vm->ctl, client, id, "GenericError", "could not ask QEMU to add the device; try again");
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "/dev/fdset/%" PRId64, set);
	json_object_object_add(add, "fdset-id", json_object_new_int64(set));
	json_object_object_add(add, "opaque", json_object_new_string(json_object_get_string(v)));
	json_object_object_add(args, path_key, json_object_new_string(path));
	json_object_object_add(rm, "fdset-id", json_object_new_int64(set));
	/* As for a screenshot: the fd goes with add-fd's first byte, and QMP runs the three in order. */
	qmp_client_output(vm->qmp, &buf, &at);
	if (vm_send_full(vm, "add-fd", add, CMD_FDSET, 0, NULL, -1) < 0)
		fd = safe_close(fd);
	r = fd < 0 ? -ENOMEM : fdpass_add(&vm->qmp_fds, at, fd);
	if (r >= 0)
		r = send_device(vm, "device_add", args, CMD_CLIENT_DEVICE_ADD, client, id, json_object_get_string(v),
				done, userdata);
	if (r < 0)
		control_error(vm->ctl, client, id, "GenericError", "could not ask QEMU to add the device");
	vm_send_full(vm, "remove-fd", rm, CMD_FDSET, 0, NULL, -1);
	return r;
}

int vm_device_del(struct vm *vm, uint64_t client, json_object *id, const char *dev_id, int64_t fdset, vm_device_fn done,
		  void *userdata)
{
	_cleanup_json_ json_object *args = json_object_new_object();
	struct unplug *u = calloc(1, sizeof(*u));
	int r = -ENOMEM;

	if (u && args && !find_unplug(vm, dev_id, false) && (u->dev_id = strdup(dev_id))) {
		json_object_object_add(args, "id", json_object_new_string(dev_id));
		/* The client waits in the list, not on the command: DEVICE_DELETED may come before the reply. */
		r = send_device(vm, "device_del", args, CMD_DEVICE_DEL, 0, NULL, dev_id, NULL, NULL);
	}
	if (r < 0) {
		if (u)
			free(u->dev_id);
		free(u);
		control_error(vm->ctl, client, id, "GenericError", "could not ask QEMU to remove the device");
		return r;
	}
	*u = (struct unplug){ .dev_id = u->dev_id,
			      .client = client,
			      .id = id ? json_object_get(id) : NULL,
			      .fdset = fdset,
			      .done = done,
			      .userdata = userdata,
			      .next = vm->unplugs };
	vm->unplugs = u;
	return 0;
}

static void serve_qmp(struct vm *vm, uint64_t client, struct qmp_msg *m)
{
	json_object *a = NULL;
	uid_t uid = (uid_t)-1;
	enum control_role role = control_client_role(vm->ctl, client, &uid);
	const char *command = NULL, *why = NULL;
	char name[64];

	if (control_qmp_args(m->data, &command, &a, &why) < 0) {
		control_error(vm->ctl, client, m->id, "GenericError", why);
		return;
	}
	/* The monitor is vgpuvm's: a client must not take the negotiation, quit or QEMU's fds behind its back. */
	why = passthrough_refusal(command, role == CONTROL_ROLE_ROOT, role == CONTROL_ROLE_OWNER);
	log_notice("qmp passthrough from uid %ld: %s%s", (long)uid, passthrough_printable(command, name, sizeof(name)),
		   why ? " (refused)" : "");
	if (why) {
		control_error(vm->ctl, client, m->id, "GenericError", why);
		return;
	}
	vm_send_full(vm, command, a, CMD_CLIENT_QMP, client, m->id, -1);
}

void vm_command(struct vm *vm, uint64_t client, struct qmp_msg *m)
{
	bool qmp_up = vm->qmp_ready && !vm->qmp_eof;

	if (strcmp(m->name, "status") == 0) {
		const char *why = NULL;
		bool ask_qemu;

		/* Answered from what the agent said last; a refresh, if one is due, serves the next status. */
		agent_refresh(vm->agent, now_usec());
		/*
		 * "ask_qemu": false (a metrics scrape) is answered from the supervisor's own state, with QEMU's run
		 * state as its events last said: no round trip to a QEMU that may be slow to answer.
		 */
		if (control_status_args(m->data, &ask_qemu, &why) < 0)
			control_error(vm->ctl, client, m->id, "GenericError", why);
		else if (!ask_qemu) {
			json_object *st =
			    vm->status_fn(vm->status_userdata,
					  &(struct vm_state){ vm->stop.phase, vm->pid, vm->started_at, vm->agent },
					  vm->qemu_status[0] ? vm->qemu_status : NULL);
			control_return(vm->ctl, client, m->id, st);
			json_object_put(st);
		} else if (qmp_up)
			vm_send_full(vm, "query-status", NULL, CMD_CLIENT_STATUS, client, m->id, -1);
		else {
			json_object *st = vm->status_fn(
			    vm->status_userdata,
			    &(struct vm_state){ vm->stop.phase, vm->pid, vm->started_at, vm->agent }, NULL);
			control_return(vm->ctl, client, m->id, st);
			json_object_put(st);
		}
	} else if (strcmp(m->name, "stop") == 0)
		serve_stop(vm, client, m);
	else if (strcmp(m->name, "screenshot") == 0 || strcmp(m->name, "qmp") == 0) {
		if (!qmp_up)
			control_error(vm->ctl, client, m->id, "GenericError", "QEMU's monitor is not up");
		else if (m->name[0] == 's')
			serve_screenshot(vm, client, m);
		else
			serve_qmp(vm, client, m);
	} else
		control_error(vm->ctl, client, m->id, "CommandNotFound",
			      "unknown command; try status, stop, screenshot or qmp");
}
