/* SPDX-License-Identifier: MIT */
/*
 * The SPICE display's way in. On the local socket RUNTIME/NAME/spice.sock, which the supervisor makes with the control
 * socket's owner and mode and listens on itself: QEMU listens nowhere, and each connection the supervisor accepts (from
 * root, its own uid, or the socket's group) goes to QEMU by fd, with QMP getfd and add_client. QEMU, another uid, makes
 * no path and root follows none of QEMU's. Over TCP (display.listen) QEMU listens, with ticketing on: the password,
 * read here from display.password_file, reaches it over QMP (set_password) and never through its argv or environment.
 * The listener outlives each QEMU of a restart policy, so a viewer reconnects to the same path.
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct profile;
struct spice;
struct json_object;

#define SPICE_SOCKET "spice.sock"

/*
 * Sets up the profile's SPICE display: the local socket in dir (mode 0600, or 0660 and group gid when gid is not
 * (gid_t)-1), or the password for TCP. *ret is NULL when the display is not "spice". Returns 0, or a negative errno
 * with *ret_error (may be NULL) saying why: -ENOENT, -EPERM, -EINVAL for the password file; *ret is then untouched.
 */
int spice_new(const struct profile *p, const char *dir, gid_t gid, struct spice **ret, char **ret_error);

/* Closes the socket and removes it. Accepts NULL. */
void spice_free(struct spice *s);

/* Fills the listening socket's pollfd; returns 1, or 0 when there is none (TCP, or NULL). */
size_t spice_pollfds(const struct spice *s, struct pollfd *p, size_t max);

/* A peer turned away, and whether to say so: once per uid a minute, with a count, as the control socket (refusals.h).
 */
struct spice_refusal {
	uid_t uid;
	bool due;	/* a line is due */
	unsigned count; /* refused since the last line, this one included */
};

/*
 * Accepts one waiting connection from a peer that may connect. Returns its fd (*ret_serial numbers it, for the fd's
 * name in QEMU), -EAGAIN when none waits, -EACCES when its peer may not connect (it is closed; *ret_refused says who),
 * or another negative errno.
 */
int spice_accept(struct spice *s, uint64_t *ret_serial, struct spice_refusal *ret_refused);

/* The password QEMU gets with set_password, or NULL on the local socket. */
const char *spice_password(const struct spice *s);

/* The status object's display.spice: {"socket": PATH} or {"address": "HOST:PORT"}; NULL without SPICE. */
struct json_object *spice_status_json(const struct spice *s);
