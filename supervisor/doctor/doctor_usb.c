/* SPDX-License-Identifier: MIT */
/* doctor's check of the profile's USB devices: each plugged in, one only, with its node where it should be. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/usb.h"
#include "util/macro.h"

void doctor_check_usb(struct doctor *d)
{
	_cleanup_free_ struct usb_dev *devs = NULL;
	size_t n = 0;

	if (!d->profile || d->profile->n_usb == 0)
		return;
	if (usb_scan(d->sys, &devs, &n) < 0) {
		doctor_add(d, "usb", DOCTOR_FAIL,
			   doctor_fmt("cannot list the USB devices in %s/bus/usb/devices", d->sys),
			   doctor_fmt("is sysfs mounted?"));
		return;
	}
	for (size_t i = 0; i < d->profile->n_usb; i++) {
		_cleanup_free_ char *error = NULL, *node = NULL;
		const struct usb_dev *u;
		struct stat st;
		char name[192];
		size_t k;

		usb_want_name(&d->profile->usb[i], name, sizeof(name));
		if (usb_find(devs, n, &d->profile->usb[i], &k, &error) < 0) {
			/* The message says what is there; the fix is what the profile can say instead. */
			doctor_add(
			    d, "usb", DOCTOR_FAIL, doctor_fmt("usb[%zu]: %s", i, error ?: name),
			    doctor_fmt("plug the device in, or name one of those listed in usb[%zu] (its \"port\", "
				       "or \"id\" with \"serial\")",
				       i));
			continue;
		}
		u = &devs[k];
		if (asprintf(&node, "%s/bus/usb/%03u/%03u", d->dev, u->bus, u->dev) < 0)
			node = NULL;
		/* Looked at, not opened: doctor changes nothing, and opening is run's to do as root. */
		if (!node || lstat(node, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != USB_DEVICE_MAJOR ||
		    minor(st.st_rdev) != (u->bus - 1) * 128 + (u->dev - 1)) {
			doctor_add(d, "usb", DOCTOR_FAIL,
				   doctor_fmt("usb[%zu]: %s is at port %s, but %s is not its node", i, name, u->port,
					      node ?: "?"),
				   doctor_fmt("is devtmpfs mounted on /dev? (mount -t devtmpfs dev /dev)"));
			continue;
		}
		doctor_add(d, "usb", DOCTOR_PASS,
			   doctor_fmt("usb[%zu]: %s is %s at port %s%s%s, node %s", i, name, u->id, u->port,
				      u->name[0] ? ", " : "", u->name, node),
			   NULL);
	}
}
