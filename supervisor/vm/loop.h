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
#include "util/fdpass.h"

struct profile;
struct qmp_client;
struct qmp_msg;
struct control;
struct console;
struct json_object;
struct pending;
struct vm;

/* Builds the control socket's status object; qemu_status is NULL when QEMU could not be asked. */
typedef struct json_object *(*vm_status_fn)(void *userdata, const struct vm *vm, const char *qemu_status);

#define VM_TAIL_LINES 20
#define VM_LINE_MAX 4096

struct vm_output {
	int fd;
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
	struct vm_output out, err;
	char *tail[VM_TAIL_LINES]; /* QEMU's last lines of output, for the message if it dies */
	size_t tail_next;

	struct stop stop;     /* the phase, the shutdown step, the deadline, how it ended */
	uint64_t started_at; /* monotonic usec */
	uint64_t running_at; /* when QEMU first reported running, 0 before */
	siginfo_t exit_info; /* from waitid(), valid in STOP_PHASE_EXITED */

	struct control *ctl;	  /* the control socket, or NULL */
	struct console *con;	  /* the serial console's relay, or NULL */
	vm_status_fn status_fn;
	void *status_userdata;
	struct pending *pending;  /* commands sent to QEMU, awaiting replies */
	struct fdpass qmp_fds;	  /* fds to go to QEMU, each with its add-fd command */
	int64_t fdsets;		  /* screenshots' fdsets so far, for the next one's id */
};

/* Handles a command from a control client while QEMU runs. */
void vm_command(struct vm *vm, uint64_t client, struct qmp_msg *cmd);

/* Starts the shutdown steps as a stop request does: from the power button, or from quit when force is set. */
void vm_stop(struct vm *vm, const char *why, bool force);

/* Sets up a vm for a QEMU that spawn_qemu() started; takes none of the fds (the caller closes them). */
int vm_init(struct vm *vm, const struct profile *p, pid_t pid, int pidfd, int sig_fd, int qmp_fd, int out_fd,
	    int err_fd);
void vm_done(struct vm *vm);

/* Runs until QEMU has been reaped. Returns 0, or a negative errno when the loop itself failed. */
int vm_run(struct vm *vm);

/* How the VM ended: stop_exit_code(). */
int vm_exit_code(const struct vm *vm);

/* QEMU's last lines of output joined with newlines and "  qemu: " in front, or NULL when there were none. */
char *vm_tail(const struct vm *vm);

/* The hint for the first of QEMU's last lines that has one, or NULL. */
const char *vm_hint(const struct vm *vm);

