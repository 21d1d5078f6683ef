/* SPDX-License-Identifier: MIT */
/* What run.c and run_host.c share: the supervisor's state across restarts. Private to those two files. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "supervisor/cli/run_usb.h"
#include "supervisor/host/record.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/net.h"
#include "supervisor/launch/platform.h"
#include "supervisor/vm/restart.h"

struct profile;
struct runtime;
struct mdev;
struct control;
struct vm;
struct spice;

/* Everything one supervisor holds, across restarts. */
struct sup {
	const struct profile *p;
	struct runtime *rt;
	struct mdev *m;
	struct control *ctl;
	struct vm *vm; /* while a QEMU runs */
	int sig_fd;
	struct restart_history restart; /* the restart policy's; status shows its restarts */
	bool stop_requested;		/* between tries */
	int last_exit_code;		/* the last try's, 0 before any: status shows it */
	struct record rec;
	struct identity id;    /* whom QEMU runs as */
	struct net_taps net;   /* the taps of the current try */
	bool confined;	       /* the supervisor's own seccomp filter is in place */
	bool recorded;	       /* this supervisor wrote the crash record (a dead one's is not its to remove) */
	unsigned qemu_version; /* PROFILE_QEMU_VERSION(), when the command line depends on it; else 0 */
	struct platform pl;    /* firmware, TPM, the state they keep, their helpers */
	pid_t spawner_pid;     /* the process that forks QEMU and the helpers (spawner.h) */
	int spawner_fd;
	struct spice *spice; /* the SPICE display's socket or password, for every try */
	struct run_usb usb;  /* the USB devices of the current try */
};

/* run.c: writes the crash record as it is now, with QEMU's pid (0 for none). */
void run_write_record(struct sup *s, pid_t qemu_pid);
