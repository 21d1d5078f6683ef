/* SPDX-License-Identifier: MIT */
/*
 * The NICs' side of a run: the taps QEMU gets. As root, the supervisor makes a tap for each bridge NIC (host/tap.c)
 * and opens the user's tap for each tap NIC, and QEMU gets them as fds; QEMU, with no privilege, could do neither.
 * Every tap made is in the crash record before it is made and leaves it once deleted.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "profiles/profile.h"

struct identity;
struct record;

/* The taps of one run of QEMU, by NIC index. */
struct net_taps {
	int fd[PROFILE_NICS_MAX]; /* -1: none (a user NIC, or QEMU opens the tap by name) */
};

#define NET_TAPS_INIT                                                                                                  \
	{                                                                                                              \
		.fd = { -1, -1, -1, -1, -1, -1, -1, -1 }                                                               \
	}

/* Called to write the record after each change to it. */
typedef void (*net_save_fn)(void *userdata);

/*
 * Checks what the NICs need before anything is made, so that a missing bridge or tap stops the VM before its mdev is
 * made: each bridge NIC's bridge exists and no interface has its tap's name yet (and vgpuvm is root: only it can make
 * the tap); each tap NIC's tap exists, is a tap, and, when vgpuvm is not root, QEMU's user may open it. Returns 0 or
 * -ENODEV, -EMEDIUMTYPE, -EEXIST, -EPERM with *ret_error.
 */
int net_check(const struct profile *p, const struct identity *id, char **ret_error);

/*
 * Makes (bridge) and opens (tap, as root) the taps of p's NICs into *taps, recording each made one in rec (and
 * calling save) before it is made and once it has its index. On failure, what was made is already undone. Returns 0 or
 * a negative errno with *ret_error (as net_check, and -EBUSY for a tap that is in use).
 */
int net_up(const struct profile *p, const struct identity *id, struct record *rec, net_save_fn save, void *userdata,
	   struct net_taps *taps, char **ret_error);

/*
 * Closes the taps' fds and deletes those vgpuvm made, in reverse order, each taken out of the record once gone.
 * Returns 0, or the first error (that tap stays in the record, for `vgpuvm cleanup`) with *ret_error.
 */
int net_down(struct net_taps *taps, struct record *rec, net_save_fn save, void *userdata, char **ret_error);
