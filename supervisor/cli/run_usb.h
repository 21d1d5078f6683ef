/* SPDX-License-Identifier: MIT */
/*
 * `vgpuvm run`'s USB devices: those the profile gave QEMU at its start and those attached since with `vgpuvm usb`,
 * each with the node the supervisor (root) found and opened, and the control socket's usb command.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "supervisor/host/usb.h"

struct control;
struct profile;
struct qmp_msg;
struct vm;
struct json_object;

/* The profile's at most PROFILE_USB_MAX, and as many attached at runtime. */
#define RUN_USB_MAX 32

enum run_usb_state {
	RUN_USB_FREE,
	RUN_USB_ADDING,	  /* device_add sent */
	RUN_USB_ATTACHED, /* QEMU has it */
	RUN_USB_REMOVING, /* device_del sent, DEVICE_DELETED awaited */
	RUN_USB_STATE_MAX,
};

struct run_usb_dev {
	enum run_usb_state state;
	struct usb_dev dev; /* dev.bus is 0 when the device was not looked up (QEMU finds it itself) */
	char qemu_id[32];   /* "vgpuvm-usb0": QEMU's id of the device */
	bool runtime;	    /* attached with `vgpuvm usb`, not at the start */
	int64_t fdset;	    /* at the start, with fds: the -add-fd set QEMU keeps the node in; else -1 */
};

struct run_usb {
	struct run_usb_dev d[RUN_USB_MAX];
	unsigned next; /* the next runtime device's number */
};

/* Before a try: the profile's devices only (runtime ones went with the last QEMU), not yet looked up. */
void run_usb_reset(struct run_usb *u, const struct profile *p);

/*
 * Finds and opens the node of the profile's USB device index for QEMU, which gets it in fdset set
 * (usb_open_wanted()); the device is then recorded. Returns the fd, or a negative errno with *ret_error set.
 */
int run_usb_open(struct run_usb *u, const struct profile *p, size_t index, unsigned set, char **ret_error);

/* Once QEMU is gone: no device. */
void run_usb_clear(struct run_usb *u);

/* Handles the control socket's usb command while vm runs (vm NULL between tries). */
void run_usb_command(struct run_usb *u, const struct profile *p, struct vm *vm, struct control *ctl, uint64_t client,
		     struct qmp_msg *m);

/* The USB devices for status (vgpuvm-control(7)): a new JSON array, or NULL. */
struct json_object *run_usb_json(const struct run_usb *u, const struct profile *p);
