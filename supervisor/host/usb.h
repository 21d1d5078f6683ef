/* SPDX-License-Identifier: MIT */
/*
 * The host's USB devices: found under SYSFS_ROOT/bus/usb/devices, and their nodes DEV_ROOT/bus/usb/BBB/DDD opened for
 * QEMU, checked to be the device sysfs describes, never through a symbolic link.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct profile_usb;

/* The character devices of USB devices (usbfs): minor (bus - 1) * 128 + (device - 1). */
#define USB_DEVICE_MAJOR 189

/* One USB device as sysfs shows it. The strings come from the device: product is made printable ASCII. */
struct usb_dev {
	char port[40]; /* "1-2": its name in bus/usb/devices */
	uint16_t vendor, product;
	char id[10];	   /* "046d:c52b" */
	char serial[128];  /* "" when it has none; as the device gives it (usb_make_printable() to show it) */
	char name[64];	   /* its product string, or "" */
	unsigned bus, dev; /* busnum, devnum */
};

/* A device's strings are the device's to choose: what reaches a message or the status is printable ASCII only. */
void usb_make_printable(char *s);

/* The USB devices plugged in (root hubs and interfaces left out), in sysfs's order, as a malloc'd array. */
int usb_scan(const char *sysfs_root, struct usb_dev **ret, size_t *ret_n);

/* "  046d:c52b port 1-2 Unifying Receiver" lines, one per device, or "  (none)": for messages. malloc'd or NULL. */
char *usb_list_text(const struct usb_dev *devs, size_t n);

/*
 * The device of devs that want names: -ENOENT when none is (the message lists those there are), -ENOTUNIQ when an id
 * without a serial fits more than one (the message asks for a serial or a port).
 */
int usb_find(const struct usb_dev *devs, size_t n, const struct profile_usb *want, size_t *ret_index, char **ret_error);

/*
 * Opens d's node DEV_ROOT/bus/usb/BBB/DDD read-write, without following a symbolic link at any step, and checks it is
 * a character device of major USB_DEVICE_MAJOR with d's bus and device numbers: -EPERM (with a message) when it is
 * something else. Returns the fd.
 */
int usb_open(const char *dev_root, const struct usb_dev *d, char **ret_error);

/* usb_scan(), usb_find() and usb_open() in one: the open node of the device want names, and that device. */
int usb_open_wanted(const char *sysfs_root, const char *dev_root, const struct profile_usb *want,
		    struct usb_dev *ret_dev, char **ret_error);

/* How to name want in a message: "046d:c52b", "046d:c52b (serial X)" or "port 1-2", in buf. */
const char *usb_want_name(const struct profile_usb *want, char *buf, size_t size);
