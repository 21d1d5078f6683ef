/* SPDX-License-Identifier: MIT */
/*
 * Taps for QEMU, which runs without the privilege to make one: made (or, for a tap the user made, opened) by the
 * supervisor through /dev/net/tun, put on a bridge and brought up over rtnetlink, and passed to QEMU as an open fd.
 * A tap vgpuvm makes is not persistent: the kernel deletes it once the last fd on it is closed, so that it goes with
 * QEMU and the supervisor whatever kills them; tap_delete() also takes it away explicitly.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What rtnetlink says of a network interface. */
struct tap_link {
	int ifindex;
	unsigned mtu;
	char kind[32];	  /* IFLA_INFO_KIND: "bridge", "tun", ...; empty for a plain device */
	bool tap;	  /* a tun device in tap mode (IFF_TAP) */
	bool multi_queue; /* a tun device made with IFF_MULTI_QUEUE */
	long owner;	  /* a tun device's owner and group, -1 when it has none */
	long group;
};

/* Looks name up. Returns 0, -ENODEV when there is no such interface, or another negative errno. */
int tap_link_get(const char *name, struct tap_link *ret);

/* Whether bridge is a Linux bridge (its link in *ret): 0, or -ENODEV, -EMEDIUMTYPE with *ret_error naming the fix. */
int tap_check_bridge(const char *bridge, struct tap_link *ret, char **ret_error);

/* Whether no interface is called name, as the tap vgpuvm would make: 0, or -EEXIST with *ret_error. */
int tap_check_free(const char *name, char **ret_error);

/* Whether name is a tap (its link in *ret): 0, or -ENODEV, -EMEDIUMTYPE with *ret_error naming the fix. */
int tap_check_tap(const char *name, struct tap_link *ret, char **ret_error);

/*
 * Makes a tap called name (failing if any interface has that name), puts it on bridge, gives it the bridge's MTU and
 * brings it up. Returns 0 with the tap's fd and ifindex, or a negative errno with *ret_error saying what to do:
 * -ENODEV (no such bridge), -EMEDIUMTYPE (not a Linux bridge), -EEXIST (the name is taken), -EPERM (no CAP_NET_ADMIN).
 * Nothing is left on failure: the tap goes with its fd.
 */
int tap_create(const char *name, const char *bridge, int *ret_fd, int *ret_ifindex, char **ret_error);

/*
 * Opens the tap the user made, for QEMU. Returns its fd, or a negative errno with *ret_error: -ENODEV (no such
 * interface), -EMEDIUMTYPE (not a tap), -EBUSY (something else has it open), -EPERM.
 */
int tap_open(const char *name, char **ret_error);

/*
 * Whether QEMU, running as uid with groups, may open the tap the user made by its name itself (when the supervisor is
 * not root): 0, or -ENODEV, -EMEDIUMTYPE or -EPERM (it is not uid's or one of its groups') with *ret_error.
 */
int tap_check_owner(const char *name, uid_t uid, const gid_t *groups, size_t n_groups, char **ret_error);

/*
 * Deletes the tap vgpuvm made: the interface at ifindex, if it is still a tun device called name. Returns 0 when it is
 * deleted or gone, 1 when another interface has the index now, or ifindex is 0 (a tap whose index was never recorded
 * was never passed on, and went with its maker: whatever has the name now is left alone), or a negative errno.
 */
int tap_delete(const char *name, int ifindex);

/* The inode of this process's network namespace: a record names the namespace its taps were made in. */
int tap_netns(uint64_t *ret);
