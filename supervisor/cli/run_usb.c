/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "profiles/profile.h"
#include "profiles/profile_usb.h"
#include "qmp/qmp.h"
#include "supervisor/cli/run_usb.h"
#include "supervisor/host/host.h"
#include "supervisor/host/usb.h"
#include "supervisor/log.h"
#include "supervisor/vm/control.h"
#include "supervisor/vm/control_args.h"
#include "supervisor/vm/loop.h"
#include "util/json.h"
#include "util/macro.h"

void run_usb_reset(struct run_usb *u, const struct profile *p)
{
	*u = (struct run_usb){};
	for (size_t i = 0; i < p->n_usb && i < RUN_USB_MAX; i++) {
		u->d[i].state = RUN_USB_ATTACHED;
		/* Set when the node is opened for QEMU (run_usb_open()). */
		u->d[i].fdset = -1;
		snprintf(u->d[i].qemu_id, sizeof(u->d[i].qemu_id), "vgpuvm-usb%zu", i);
	}
}

int run_usb_open(struct run_usb *u, const struct profile *p, size_t index, unsigned set, char **ret_error)
{
	int fd;

	if (index >= p->n_usb || index >= RUN_USB_MAX)
		return -EINVAL;
	fd = usb_open_wanted(host_sysfs_root(), host_dev_root(), &p->usb[index], &u->d[index].dev, ret_error);
	if (fd >= 0)
		u->d[index].fdset = set;
	return fd;
}

void run_usb_clear(struct run_usb *u)
{
	*u = (struct run_usb){};
}

static struct run_usb_dev *by_qemu_id(struct run_usb *u, const char *qemu_id)
{
	for (size_t i = 0; i < RUN_USB_MAX; i++)
		if (u->d[i].state != RUN_USB_FREE && strcmp(u->d[i].qemu_id, qemu_id) == 0)
			return &u->d[i];
	return NULL;
}

static void on_added(void *userdata, const char *qemu_id, bool ok)
{
	struct run_usb_dev *d = by_qemu_id(userdata, qemu_id);

	if (!d)
		return;
	if (ok)
		log_info("attached USB device %s (port %s) to the guest as %s", d->dev.id, d->dev.port, qemu_id);
	d->state = ok ? RUN_USB_ATTACHED : RUN_USB_FREE;
}

static void on_removed(void *userdata, const char *qemu_id, bool ok)
{
	struct run_usb_dev *d = by_qemu_id(userdata, qemu_id);

	if (!d)
		return;
	if (ok)
		log_info("detached USB device %s (port %s) from the guest", d->dev.id, d->dev.port);
	d->state = ok ? RUN_USB_FREE : RUN_USB_ATTACHED;
}

/* Whether an attached device is the one want names. */
static bool attached_matches(const struct run_usb_dev *d, const struct profile_usb *want)
{
	if (d->state != RUN_USB_ATTACHED || !d->dev.bus)
		return false;
	if (want->port)
		return strcmp(d->dev.port, want->port) == 0;
	return d->dev.vendor == want->vendor && d->dev.product == want->product &&
	       (!want->serial || strcmp(d->dev.serial, want->serial) == 0);
}

static void attach(struct run_usb *u, const struct profile *p, struct vm *vm, struct control *ctl, uint64_t client,
		   struct qmp_msg *m, const struct profile_usb *want)
{
	_cleanup_json_ json_object *args = NULL;
	_cleanup_free_ char *error = NULL;
	struct run_usb_dev *slot = NULL;
	struct usb_dev dev;
	int fd;

	/* The bus the devices go on is there when the profile has "usb" (even empty) or a tablet. */
	if (!p->usb && !p->input.tablet) {
		control_error(
		    ctl, client, m->id, "DeviceNotFound",
		    "the VM has no USB controller; give its profile \"usb\": [] (or a tablet) and start it again");
		return;
	}
	for (size_t i = 0; i < RUN_USB_MAX && !slot; i++)
		if (u->d[i].state == RUN_USB_FREE)
			slot = &u->d[i];
	if (!slot) {
		control_error(ctl, client, m->id, "GenericError", "too many USB devices are attached");
		return;
	}
	fd = usb_open_wanted(host_sysfs_root(), host_dev_root(), want, &dev, &error);
	if (fd < 0) {
		/* Not there, or not one: the client says 69, as run does. */
		control_error(ctl, client, m->id, fd == -ENOENT || fd == -ENOTUNIQ ? "DeviceNotFound" : "GenericError",
			      error ?: strerror(-fd));
		return;
	}
	for (size_t i = 0; i < RUN_USB_MAX; i++)
		if (u->d[i].state != RUN_USB_FREE && u->d[i].dev.bus == dev.bus && u->d[i].dev.dev == dev.dev) {
			close(fd);
			control_error(ctl, client, m->id, "GenericError", "that USB device is attached already");
			return;
		}
	*slot = (struct run_usb_dev){ .state = RUN_USB_ADDING, .dev = dev, .runtime = true, .fdset = -1 };
	snprintf(slot->qemu_id, sizeof(slot->qemu_id), "vgpuvm-usb-hot%u", u->next++);
	args = json_object_new_object();
	if (!args) {
		close(fd);
		slot->state = RUN_USB_FREE;
		control_error(ctl, client, m->id, "GenericError", "out of memory");
		return;
	}
	json_object_object_add(args, "driver", json_object_new_string("usb-host"));
	json_object_object_add(args, "bus", json_object_new_string("vgpuvm-xhci.0"));
	json_object_object_add(args, "id", json_object_new_string(slot->qemu_id));
	log_notice("attaching USB device %s (port %s, %s) to the guest", dev.id, dev.port, dev.name);
	/* QEMU gets the open node, as at the start: no lending, nothing to give back. */
	if (vm_device_add(vm, client, m->id, args, "hostdevice", fd, on_added, u) < 0)
		slot->state = RUN_USB_FREE;
}

static void detach(struct run_usb *u, struct vm *vm, struct control *ctl, uint64_t client, struct qmp_msg *m,
		   const struct profile_usb *want)
{
	char name[192];

	for (size_t i = 0; i < RUN_USB_MAX; i++) {
		struct run_usb_dev *d = &u->d[i];

		if (!attached_matches(d, want))
			continue;
		d->state = RUN_USB_REMOVING;
		log_notice("detaching USB device %s (port %s) from the guest", d->dev.id, d->dev.port);
		if (vm_device_del(vm, client, m->id, d->qemu_id, d->fdset, on_removed, u) < 0)
			d->state = RUN_USB_ATTACHED;
		return;
	}
	char msg[256];

	usb_want_name(want, name, sizeof(name));
	snprintf(msg, sizeof(msg), "USB device %s is not attached to this VM", name);
	control_error(ctl, client, m->id, "DeviceNotFound", msg);
}

void run_usb_command(struct run_usb *u, const struct profile *p, struct vm *vm, struct control *ctl, uint64_t client,
		     struct qmp_msg *m)
{
	const char *device = NULL, *serial = NULL, *why = NULL;
	struct profile_usb want = {};
	uid_t uid;
	enum control_role role = control_client_role(ctl, client, &uid);
	bool attach_it;

	/* Like qmp: the guest's devices are for root and the VM's owner, not the group that may watch it. */
	if (role != CONTROL_ROLE_ROOT && role != CONTROL_ROLE_OWNER) {
		control_error(ctl, client, m->id, "GenericError", "usb is for root and the user who started the VM");
		return;
	}
	if (control_usb_args(m->data, &attach_it, &device, &serial, &why) < 0) {
		control_error(ctl, client, m->id, "GenericError", why);
		return;
	}
	if (profile_usb_parse_id(device, &want.vendor, &want.product) == 0)
		snprintf(want.id, sizeof(want.id), "%04x:%04x", want.vendor, want.product);
	else if (profile_usb_port_valid(device) && !serial)
		want.port = (char *)device;
	else {
		control_error(
		    ctl, client, m->id, "GenericError",
		    "usb: the device is an id like 046d:c52b (with --serial when two are alike) or a port like "
		    "1-2");
		return;
	}
	want.serial = (char *)serial;
	if (!vm || !vm_qmp_up(vm)) {
		control_error(ctl, client, m->id, "GenericError", "QEMU's monitor is not up");
		return;
	}
	if (attach_it)
		attach(u, p, vm, ctl, client, m, &want);
	else
		detach(u, vm, ctl, client, m, &want);
}

json_object *run_usb_json(const struct run_usb *u, const struct profile *p)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < RUN_USB_MAX; i++) {
		const struct run_usb_dev *d = &u->d[i];
		const struct profile_usb *pu = !d->runtime && i < p->n_usb ? &p->usb[i] : NULL;
		json_object *o;

		if (d->state == RUN_USB_FREE)
			continue;
		o = json_object_new_object();
		if (d->dev.bus) {
			char serial[sizeof(d->dev.serial)];

			snprintf(serial, sizeof(serial), "%s", d->dev.serial);
			usb_make_printable(serial);
			json_object_object_add(o, "id", json_object_new_string(d->dev.id));
			json_object_object_add(o, "serial", serial[0] ? json_object_new_string(serial) : NULL);
			json_object_object_add(o, "port", json_object_new_string(d->dev.port));
			json_object_object_add(o, "product", json_object_new_string(d->dev.name));
			json_object_object_add(o, "bus", json_object_new_int((int)d->dev.bus));
			json_object_object_add(o, "device", json_object_new_int((int)d->dev.dev));
		} else {
			/* Not looked up (without root QEMU finds it itself): what the profile says. */
			json_object_object_add(o, "id", pu && !pu->port ? json_object_new_string(pu->id) : NULL);
			json_object_object_add(o, "serial",
					       pu && pu->serial ? json_object_new_string(pu->serial) : NULL);
			json_object_object_add(o, "port", pu && pu->port ? json_object_new_string(pu->port) : NULL);
			json_object_object_add(o, "product", NULL);
		}
		json_object_object_add(o, "qemu_id", json_object_new_string(d->qemu_id));
		json_object_object_add(o, "attached", json_object_new_string(d->runtime ? "runtime" : "start"));
		json_object_object_add(o, "state",
				       json_object_new_string(d->state == RUN_USB_ADDING     ? "attaching"
							      : d->state == RUN_USB_REMOVING ? "detaching"
											     : "attached"));
		json_object_array_add(a, o);
	}
	return a;
}
