/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "supervisor/host/record.h"
#include "supervisor/host/tap.h"
#include "supervisor/launch/identity.h"
#include "supervisor/launch/net.h"
#include "util/errmsg.h"
#include "util/macro.h"

/* Whether the supervisor may make and open taps for QEMU: it runs QEMU as another user only as root. */
static bool privileged(const struct identity *id)
{
	return id->change;
}

int net_check(const struct profile *p, const struct identity *id, char **ret_error)
{
	for (size_t i = 0; i < p->n_nics; i++) {
		const struct profile_nic *nic = &p->nics[i];
		_cleanup_free_ char *error = NULL;
		struct tap_link l;
		int r = 0;

		if (nic->type == PROFILE_NIC_BRIDGE && !privileged(id))
			return errmsg(
			    ret_error, -EPERM,
			    "net[%zu]: a bridge NIC needs vgpuvm to run as root: its tap is made by the "
			    "supervisor, as QEMU runs without the privilege to; or use \"type\": \"tap\" with "
			    "a tap made for you (ip tuntap add NAME mode tap user %ld)",
			    i, (long)id->uid);
		if (nic->type == PROFILE_NIC_BRIDGE && (r = tap_check_bridge(nic->bridge, &l, &error)) == 0)
			r = tap_check_free(nic->tap, &error);
		else if (nic->type == PROFILE_NIC_TAP && privileged(id))
			r = tap_check_tap(nic->tap, &l, &error);
		else if (nic->type == PROFILE_NIC_TAP)
			r = tap_check_owner(nic->tap, id->uid, id->groups, id->n_groups, &error);
		if (r < 0)
			return errmsg(ret_error, r, "net[%zu]: %s", i, error ?: strerror(-r));
	}
	return 0;
}

int net_up(const struct profile *p, const struct identity *id, struct record *rec, net_save_fn save, void *userdata,
	   struct net_taps *taps, char **ret_error)
{
	_cleanup_free_ char *ignored = NULL;
	int r = 0;

	*taps = (struct net_taps)NET_TAPS_INIT;
	if (!privileged(id))
		/* QEMU opens a tap NIC's tap itself, by its name; net_check refuses bridge NICs. */
		return net_check(p, id, ret_error);
	if (rec->n_taps == 0 && tap_netns(&rec->netns) < 0)
		rec->netns = 0;
	for (size_t i = 0; i < p->n_nics && r == 0; i++) {
		const struct profile_nic *nic = &p->nics[i];
		_cleanup_free_ char *error = NULL;
		struct record_tap *t;
		int fd, ifindex = 0;

		if (nic->type == PROFILE_NIC_TAP) {
			fd = tap_open(nic->tap, &error);
			if (fd < 0)
				r = errmsg(ret_error, fd, "net[%zu]: %s", i, error ?: strerror(-fd));
			else
				taps->fd[i] = fd;
			continue;
		}
		if (nic->type != PROFILE_NIC_BRIDGE)
			continue;
		if (rec->n_taps >= RECORD_TAPS_MAX) {
			r = errmsg(ret_error, -E2BIG, "net[%zu]: too many taps to record", i);
			break;
		}
		/* In the record before it is made: a supervisor killed in between leaves a name to look for. */
		t = &rec->taps[rec->n_taps++];
		*t = (struct record_tap){};
		snprintf(t->name, sizeof(t->name), "%s", nic->tap);
		save(userdata);
		r = tap_create(nic->tap, nic->bridge, &fd, &ifindex, &error);
		if (r < 0) {
			rec->n_taps--;
			save(userdata);
			r = errmsg(ret_error, r, "net[%zu]: %s", i, error ?: strerror(-r));
			break;
		}
		taps->fd[i] = fd;
		t->ifindex = ifindex;
		save(userdata);
	}
	if (r < 0)
		net_down(taps, rec, save, userdata, &ignored);
	return r;
}

int net_down(struct net_taps *taps, struct record *rec, net_save_fn save, void *userdata, char **ret_error)
{
	/* The fds first: a tap that is not persistent goes with the last fd on it, and QEMU's are closed already. */
	for (size_t i = 0; i < PROFILE_NICS_MAX; i++)
		taps->fd[i] = safe_close(taps->fd[i]);
	while (rec->n_taps > 0) {
		const struct record_tap *t = &rec->taps[rec->n_taps - 1];
		int r = tap_delete(t->name, t->ifindex);

		if (r < 0)
			return errmsg(ret_error, r, "cannot delete tap %s: %s", t->name, strerror(-r));
		rec->n_taps--;
		save(userdata);
	}
	return 0;
}
