/* SPDX-License-Identifier: MIT */
/*
 * What the loop (loop.c) and its control-socket commands (loop_commands.c) share: struct vm and the bookkeeping of
 * the commands sent to QEMU. Private to vm/: nothing outside these two files includes it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "supervisor/vm/loop.h"
#include "util/fdpass.h"

struct qmp_msg;
struct stop_event;

#define VM_TAIL_LINES 20
#define VM_LINE_MAX 4096

struct vm_output {
	int fd; /* the vm's: closed at EOF */
	char buf[VM_LINE_MAX];
	size_t len;
};

struct vm {
	const struct profile *profile;
	pid_t pid;
	int pidfd;
	int sig_fd;
	int qmp_fd;
	struct qmp_client *qmp;
	bool qmp_ready; /* capabilities negotiated */
	bool qmp_eof;
	char qemu_status[32]; /* QEMU's run state as its replies and events last said ("running", "paused"), or "" */
	struct vm_output out, err;
	char *tail[VM_TAIL_LINES]; /* QEMU's last lines of output, for the message if it dies */
	size_t tail_next;

	struct agent *agent; /* the guest agent's side; NULL without one */
	struct stop stop;    /* the phase, the shutdown step, the deadline, how it ended */
	uint64_t started_at; /* monotonic usec */
	uint64_t running_at; /* when QEMU first reported running, 0 before */
	siginfo_t exit_info; /* from waitid(), valid in STOP_PHASE_EXITED */

	struct control *ctl;	   /* the control socket, or NULL */
	struct console *con;	   /* the serial console's relay, or NULL */
	struct helpers *helpers;   /* QEMU's helper processes, or NULL */
	struct spice *spice;	   /* the SPICE display's way in, or NULL */
	const char *helper_failed; /* the helper whose death stopped the VM */
	vm_status_fn status_fn;
	void *status_userdata;
	struct pending *pending; /* commands sent to QEMU, awaiting replies */
	struct fdpass qmp_fds;	 /* fds to go to QEMU, each with its add-fd command */
	int64_t fdsets;		 /* screenshots' fdsets so far, for the next one's id */
	struct unplug *unplugs;	 /* device_del sent, DEVICE_DELETED awaited */
};

/* What each command sent to QEMU was for. */
enum cmd {
	CMD_CAPABILITIES = 1,
	CMD_QUERY_STATUS,
	CMD_STEP,	       /* a shutdown step's command */
	CMD_CLIENT_STATUS,     /* query-status for a control client's status */
	CMD_CLIENT_SCREENSHOT, /* screendump for a control client */
	CMD_CLIENT_QMP,	       /* a control client's own command */
	CMD_FDSET,	       /* add-fd or remove-fd around a screenshot's screendump */
	CMD_SPICE,	       /* getfd and add_client for a SPICE viewer, set_password */
	CMD_CLIENT_DEVICE_ADD, /* device_add for vm_device_add() */
	CMD_DEVICE_DEL,	       /* device_del for vm_device_del(): its client waits in vm->unplugs */
};

/* A device_del whose client waits for its reply and for QEMU's DEVICE_DELETED, which may come first. */
struct unplug {
	char *dev_id;
	bool acked;    /* device_del returned */
	bool deleted;  /* DEVICE_DELETED came */
	int64_t fdset; /* to remove once the device is gone (the one -add-fd gave it), -1 for none */
	uint64_t client;
	json_object *id;
	vm_device_fn done;
	void *userdata;
	struct unplug *next;
};

/* The cookie of a command sent to QEMU: the QMP client hands it back with the reply. */
struct pending {
	enum cmd cmd;
	uint64_t client;	  /* the control client waiting for it, 0 for none */
	json_object *id;	  /* that client's id */
	int fd;			  /* a screenshot's memfd, -1 for none */
	const char *step_command; /* CMD_STEP: which, for the stop machine */
	vm_device_fn done;	  /* CMD_CLIENT_DEVICE_*: whom to tell, and of which device */
	void *done_userdata;
	char *dev_id;
	struct pending *next;
	/* The pointer that points here (the list's head or the previous entry's next): a reply unlinks its entry at
	 * once, however many commands are in flight (a crowd of control clients can make that thousands). */
	struct pending **pprev;
};

/* loop.c: sends a command to QEMU; the reply comes back with its pending entry, which takes fd. */
int vm_send_full(struct vm *vm, const char *command, json_object *args, enum cmd c, uint64_t client, json_object *id,
		 int fd);
/* loop.c: hands an event to the stop machine and carries out its answer. */
void vm_feed(struct vm *vm, const struct stop_event *e);
/* loop.c: frees an unplug that is off the list (vm_free() frees those QEMU never finished). */
void vm_unplug_free(struct unplug *u);

/* loop_commands.c: an unplug's next step, from device_del's reply or from DEVICE_DELETED. */
void vm_unplug_step(struct vm *vm, const char *dev_id, const struct qmp_msg *reply, bool deleted);
/* loop_commands.c: answers a control client from QEMU's reply to the command sent on its behalf. */
void vm_on_client_reply(struct vm *vm, struct qmp_msg *m, struct pending *pd);
/* loop_commands.c: gives QEMU SPICE's password, once QMP is up. */
void vm_set_spice_password(struct vm *vm);
/* loop_commands.c: hands QEMU the viewers waiting on the SPICE socket. */
void vm_serve_spice(struct vm *vm);
