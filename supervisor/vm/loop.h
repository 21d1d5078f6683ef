/* SPDX-License-Identifier: MIT */
/*
 * The poll loop that supervises one running QEMU: QMP, QEMU's output, signals and the pidfd, in one poll() with no
 * threads and no periodic wake-ups. What happens when (the start deadline, the shutdown steps) is the stop machine's
 * (stop.h): the loop feeds it events and carries out the actions it returns.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/vm/stop.h"

struct profile;
struct qmp_client;
struct qmp_msg;
struct control;
struct console;
struct helpers;
struct json_object;
struct pending;
struct spice;
struct agent;
struct vm;

/* What the status object says of a running QEMU. */
struct vm_state {
	enum stop_phase phase;
	pid_t pid;
	uint64_t started_at;	   /* monotonic usec */
	const struct agent *agent; /* the guest agent's side, or NULL */
};

/* Builds the control socket's status object; st is NULL between tries, qemu_status NULL when QEMU was not asked. */
typedef struct json_object *(*vm_status_fn)(void *userdata, const struct vm_state *st, const char *qemu_status);

/*
 * What the loop is given. Who owns each fd is said here and nowhere else: the vm takes QEMU's output pipes (it closes
 * each at EOF, and in vm_free() what is left); it borrows the pidfd, the signalfd and the QMP socket, which the caller
 * closes after vm_free().
 */
struct vm_opts {
	const struct profile *profile;
	pid_t pid;
	int pidfd;		 /* borrowed */
	int sig_fd;		 /* borrowed */
	int qmp_fd;		 /* borrowed */
	int out_fd;		 /* taken; -1 when QEMU's stdout is not piped */
	int err_fd;		 /* taken */
	int agent_fd;		 /* taken; the guest agent's socket, -1 without one */
	struct control *ctl;	 /* the control socket, or NULL */
	struct console *con;	 /* the serial console's relay, or NULL */
	struct helpers *helpers; /* borrowed: QEMU's helper processes, watched with QEMU; NULL for none */
	struct spice *spice;	 /* borrowed: the SPICE display's way in (spice.h), or NULL */
	vm_status_fn status_fn;
	void *status_userdata;
};

/* How the VM ended, for the caller to report. */
struct vm_outcome {
	int code;	     /* stop_exit_code(): 0, QEMU's status, 128+N, or -EPROTO when QEMU never got to run */
	bool stop_requested; /* by a signal, a client or the console */
	bool guest_off;	     /* the guest powered off */
	bool ran;	     /* QEMU reported "running" at some point */
	bool start_failed;   /* vgpuvm gave up on the start (no QMP, or the start deadline) */
	siginfo_t exit_info; /* from waitid() */
	const char
	    *helper_failed; /* the helper whose death stopped the VM (its name, in struct vm_opts' helpers), or NULL */
};

/* Handles a command from a control client while QEMU runs. */
void vm_command(struct vm *vm, uint64_t client, struct qmp_msg *cmd);

/* Told how a device_add or device_del that vm_device_add() or vm_device_del() sent ended, before its client is. */
typedef void (*vm_device_fn)(void *userdata, const char *dev_id, bool ok);

/*
 * Adds a device on behalf of a control client whose file vgpuvm opened (a USB device's node): add-fd lends QEMU fd in
 * a new fdset, device_add gets args with path_key set to /dev/fdset/N, and remove-fd drops the fdset's own copy (the
 * device keeps the one it opened). done hears of device_add's reply, then the client gets it. Takes fd; args is
 * borrowed. Returns 0, or a negative errno with the client answered.
 */
int vm_device_add(struct vm *vm, uint64_t client, struct json_object *id, struct json_object *args,
		  const char *path_key, int fd, vm_device_fn done, void *userdata);

/*
 * Removes the device dev_id on behalf of a control client: device_del, and the client's answer once QEMU says
 * DEVICE_DELETED (a refused device_del is answered at once). done hears of it first. fdset, when not -1, is the fdset
 * the device's file came in on the command line (-add-fd), removed once the device is gone. Returns 0 or a negative
 * errno with the client answered.
 */
int vm_device_del(struct vm *vm, uint64_t client, struct json_object *id, const char *dev_id, int64_t fdset,
		  vm_device_fn done, void *userdata);

/* Whether QEMU's monitor is up for a control client's command. */
bool vm_qmp_up(const struct vm *vm);

/* Starts the shutdown steps as a stop request does: from the power button, or from quit when force is set. */
void vm_stop(struct vm *vm, const char *why, bool force);

/* Sets up the loop for a QEMU that spawn_qemu() started. The fds are taken or borrowed as struct vm_opts says, also
 * when it fails. */
int vm_new(const struct vm_opts *o, struct vm **ret);

/* Ends what vm_new() began: clients still waiting get an error, the taken fds are closed. Accepts NULL. */
void vm_free(struct vm *vm);

/* Runs until QEMU has been reaped. Returns 0, or a negative errno when the loop itself failed. */
int vm_run(struct vm *vm);

/* How the VM ended; meaningful once vm_run() returned 0. */
void vm_outcome(const struct vm *vm, struct vm_outcome *ret);

/* QEMU's last lines of output joined with newlines and "  qemu: " in front, or NULL when there were none. */
char *vm_tail(const struct vm *vm);

/* The hint for the first of QEMU's last lines that has one, or NULL. */
const char *vm_hint(const struct vm *vm);
