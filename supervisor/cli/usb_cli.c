/* SPDX-License-Identifier: MIT */
/* `vgpuvm usb`: attaching a host USB device to a running VM, or detaching it. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "supervisor/cli/ctl_cli.h"
#include "supervisor/cli/usb_cli.h"
#include "supervisor/log.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/time-util.h"

/* Long enough for a guest that is slow to let go of a device; the supervisor answers at DEVICE_DELETED. */
#define USB_TIMEOUT (60 * USEC_PER_SEC)

static const char usb_usage[] =
    "Usage: vgpuvm usb NAME attach|detach DEVICE [--serial SERIAL]\n"
    "\n"
    "Gives the running VM a host USB device, or takes it back. DEVICE is an id, VENDOR:PRODUCT as lsusb shows\n"
    "it (046d:c52b; --serial picks one of two alike), or a port as /sys/bus/usb/devices names it (1-2). The\n"
    "supervisor finds the device, opens its node and passes QEMU the fd; detach returns once QEMU has removed it.\n"
    "Root and the user who started the VM only. Exit codes: 0 done, 69 no such device or not attached, 70 QEMU\n"
    "refused, 64 bad usage.\n";

int cmd_usb(int argc, char **argv)
{
	_cleanup_json_ json_object *args = json_object_new_object();
	struct qmp_msg *m = NULL;
	const char *serial = NULL;
	int r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return fputs(usb_usage, stdout), 0;
	if (argc == 6 && strcmp(argv[4], "--serial") == 0)
		serial = argv[5];
	else if (argc != 4)
		return log_error("vgpuvm usb: expected NAME attach|detach DEVICE [--serial SERIAL]; see 'vgpuvm usb "
				 "--help'"),
		       EX_USAGE;
	if (strcmp(argv[2], "attach") != 0 && strcmp(argv[2], "detach") != 0)
		return log_error("vgpuvm usb: expected attach or detach, got \"%s\"", argv[2]), EX_USAGE;
	if (!args)
		return EX_OSERR;
	json_object_object_add(args, "action", json_object_new_string(argv[2]));
	json_object_object_add(args, "device", json_object_new_string(argv[3]));
	if (serial)
		json_object_object_add(args, "serial", json_object_new_string(serial));
	if ((r = ctl_call(argv[1], "usb", args, USB_TIMEOUT, &m)) != 0)
		return r;
	if (m->type == QMP_MSG_ERROR) {
		/* DeviceNotFound: not plugged in, not one, not attached, no controller; the refusals of a node or a
		 * caller say so in their text. */
		log_error("VM %s: usb %s %s: %s", argv[1], argv[2], argv[3], m->error_desc);
		r = strcmp(m->error_class, "DeviceNotFound") == 0				   ? EX_UNAVAILABLE
		    : strstr(m->error_desc, "is for root") || strstr(m->error_desc, "refusing it") ? EX_NOPERM
												   : EX_SOFTWARE;
	} else
		log_info("VM %s: %s %s", argv[1], argv[2][0] == 'a' ? "attached" : "detached", argv[3]);
	qmp_msg_free(m);
	return r;
}
