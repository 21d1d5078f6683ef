/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/cli/run_devices.h"
#include "supervisor/host/host.h"
#include "supervisor/host/record.h"
#include "supervisor/host/usb.h"
#include "supervisor/launch/audio.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/net.h"
#include "supervisor/log.h"
#include "util/errmsg.h"
#include "util/macro.h"

extern char **environ;

/* A device the host lacks (69), one QEMU's user may not use or vgpuvm may not make (77). */
static int exit_code(int r)
{
	switch (r) {
	case -EPERM:
	case -EACCES:
		return EX_NOPERM;
	case -ENOMEM:
		return EX_OSERR;
	default:
		return EX_UNAVAILABLE;
	}
}

int run_check_devices(const struct profile *p, const struct identity *id)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = net_check(p, id, &error);
	if (r < 0)
		return log_error("%s", error ?: strerror(-r)), exit_code(r);
	r = audio_check(p, id, environ, &error);
	if (r < 0)
		return log_error("%s", error ?: strerror(-r)), exit_code(r);
	return run_check_usb(p, id->change);
}

int run_check_usb(const struct profile *p, bool open_nodes)
{
	_cleanup_free_ struct usb_dev *devs = NULL;
	size_t n = 0;
	int r;

	if (p->n_usb == 0)
		return 0;
	r = usb_scan(host_sysfs_root(), &devs, &n);
	if (r < 0)
		return log_error_errno(r, "Failed to list the USB devices under %s/bus/usb/devices: %m",
				       host_sysfs_root()),
		       exit_code(r);
	for (size_t i = 0; i < p->n_usb; i++) {
		_cleanup_free_ char *error = NULL;
		size_t k;

		r = usb_find(devs, n, &p->usb[i], &k, &error);
		for (size_t j = 0; r >= 0 && j < i; j++) {
			size_t other;

			/* By id and by port, two entries can name one device: QEMU could not take it twice. */
			if (usb_find(devs, n, &p->usb[j], &other, NULL) >= 0 && other == k)
				r = errmsg(&error, -EINVAL, "usb[%zu] and usb[%zu] are the same device, %s at port %s",
					   j, i, devs[k].id, devs[k].port);
		}
		if (r < 0)
			return log_error("usb[%zu]: %s", i, error ?: strerror(-r)), exit_code(r);
	}
	/* As root, each node is checked now too: a refusal then leaves nothing made. */
	for (size_t i = 0; open_nodes && i < p->n_usb; i++) {
		_cleanup_free_ char *error = NULL;
		size_t k;
		int fd;

		if (usb_find(devs, n, &p->usb[i], &k, NULL) < 0)
			continue;
		fd = usb_open(host_dev_root(), &devs[k], &error);
		if (fd < 0)
			return log_error("usb[%zu]: %s", i, error ?: strerror(-fd)), exit_code(fd);
		close(fd);
	}
	return 0;
}

int run_net_up(const struct profile *p, const struct identity *id, struct record *rec, net_save_fn save, void *userdata,
	       struct net_taps *taps)
{
	_cleanup_free_ char *error = NULL;
	int r;

	r = net_up(p, id, rec, save, userdata, taps, &error);
	if (r < 0)
		return log_error("%s", error ?: strerror(-r)), exit_code(r);
	for (unsigned i = 0; i < rec->n_taps; i++)
		log_info("made tap %s on its bridge for QEMU", rec->taps[i].name);
	return 0;
}

bool run_net_down(const struct profile *p, struct net_taps *taps, struct record *rec, net_save_fn save, void *userdata)
{
	_cleanup_free_ char *error = NULL;
	unsigned made = rec->n_taps;
	int r;

	r = net_down(taps, rec, save, userdata, &error);
	if (r < 0) {
		log_error("%s; `vgpuvm cleanup %s` tries again", error ?: strerror(-r), p->name);
		return false;
	}
	if (made)
		log_info("deleted %u tap%s", made, made == 1 ? "" : "s");
	return true;
}
