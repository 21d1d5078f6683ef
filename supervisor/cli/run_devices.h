/* SPDX-License-Identifier: MIT */
/*
 * `vgpuvm run`'s part for the NICs and the sound card: the checks before anything is made, and the taps of each try,
 * with their errors said once and mapped to exit codes.
 */
#pragma once

#include <stdbool.h>

#include "supervisor/launch/net.h"

struct identity;
struct profile;
struct record;

/* What the NICs and the sound card need from the host (net_check(), audio_check()). Returns 0 or an exit code. */
int run_check_devices(const struct profile *p, const struct identity *id);

/*
 * Whether each of the profile's USB devices is plugged in, once, and (open_nodes, as root) whether its node is the
 * device it claims to be. Returns 0 or an exit code: 69 for a device missing or ambiguous, 77 for a node refused.
 */
int run_check_usb(const struct profile *p, bool open_nodes);

/* Makes the taps of one try (net_up()). Returns 0 or an exit code; nothing is left made on failure. */
int run_net_up(const struct profile *p, const struct identity *id, struct record *rec, net_save_fn save, void *userdata,
	       struct net_taps *taps);

/* Deletes the taps of one try once QEMU is gone (net_down()). Returns false when one could not be deleted. */
bool run_net_down(const struct profile *p, struct net_taps *taps, struct record *rec, net_save_fn save, void *userdata);
