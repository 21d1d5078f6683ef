/* SPDX-License-Identifier: MIT */
/*
 * Asks many supervisors for their status at once: `vgpuvm list` and `vgpuvm metrics` with tens of VMs. Every control
 * socket is connected without blocking, sent its request, and read from one poll() with one overall deadline, so the
 * time is about that of the slowest supervisor rather than the sum of them all.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* At most this many connections are open at once; the rest wait for a place (file descriptors are limited). */
#define CTL_GATHER_INFLIGHT_MAX 256

/*
 * For each of the n names, connects to BASE/NAME/control, negotiates and sends `status` (with "ask_qemu": false
 * unless ask_qemu), and waits until every one answered, failed, or the deadline (monotonic usec) passed. As root, a
 * supervisor that root does not run is not asked (the socket's path comes from the environment). *ret gets an array
 * of n status objects (the reply's "return" value, a new reference each), NULL where the supervisor did not answer:
 * none listens (a stale directory), it is not root's, it refused, or it was too slow. Returns 0, or -ENOMEM or
 * poll()'s negative errno.
 */
int ctl_gather_status(const char *base, char *const *names, size_t n, bool ask_qemu, uint64_t deadline,
		      struct json_object ***ret);

/* Drops the n objects and the array. Accepts NULL. */
void ctl_gather_free(struct json_object **st, size_t n);
