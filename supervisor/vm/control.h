/* SPDX-License-Identifier: MIT */
/*
 * vgpuvm's control socket: QMP framing (qmp/) on a unix socket in the runtime directory, served by the supervisor's
 * poll loop. Only root, the uid that started the VM and the members of the socket's group get in; each client's role
 * is known, for the commands that only some may run. A client that sends garbage, a huge line, or never reads cannot
 * stall the loop: it gets an error, or is dropped.
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;
struct qmp_msg;
struct control;

/* Who a client is, from its credentials when it connected (SO_PEERCRED, SO_PEERGROUPS). */
enum control_role {
	CONTROL_ROLE_NONE,  /* no such client (it has gone) */
	CONTROL_ROLE_GROUP, /* a member of the socket's group, neither root nor the owner */
	CONTROL_ROLE_OWNER, /* the uid that started the VM (the supervisor's), when that is not root */
	CONTROL_ROLE_ROOT,  /* uid 0 */
	CONTROL_ROLE_MAX,
};

/* A command from client `client` (a serial number, stable while the client lives). */
typedef void (*control_command_fn)(void *userdata, uint64_t client, struct qmp_msg *cmd);

#define CONTROL_LINE_MAX (64 * 1024)
#define CONTROL_OUTPUT_MAX (1024 * 1024)
#define CONTROL_CLIENTS_MAX 16
#define CONTROL_FDS_MAX 2

/*
 * Listens at path, mode 0600, or 0660 with group gid when gid is not (gid_t)-1; then the members of gid (primary or
 * supplementary) are let in too.
 */
int control_new(const char *path, gid_t gid, control_command_fn fn, void *userdata, struct control **ret);

/* Closes every client and the socket, and removes it. Accepts NULL. */
void control_free(struct control *c);

/* Fills up to max pollfds for the socket and its clients; returns how many. */
size_t control_pollfds(const struct control *c, struct pollfd *p, size_t max);

/* Handles what poll() reported on the pollfds control_pollfds() filled. */
void control_dispatch(struct control *c, const struct pollfd *p, size_t n);

/*
 * Takes a connected socket as a client, as an accepted connection is: its peer's credentials give its role, and with
 * every place taken a client that misbehaves makes room. The client is greeted and its serial stored in *ret_client
 * (optional). Takes fd in every case; -EACCES when its peer may not connect, -EBUSY when every place is held by a
 * client that behaves, -ENOMEM. Also how tests drive the protocol over a socket pair.
 */
int control_attach(struct control *c, int fd, uint64_t *ret_client);

/*
 * Handles bytes received from a client, as if read from its socket: the seam through which the fuzzer feeds a client's
 * bytes. Commands go to the control_command_fn, replies to the client's output.
 */
void control_input(struct control *c, uint64_t client, const void *buf, size_t n);

/* Answers a command; value NULL means {}. Quietly does nothing when the client has gone. */
void control_return(struct control *c, uint64_t client, struct json_object *id, struct json_object *value);
void control_error(struct control *c, uint64_t client, struct json_object *id, const char *class, const char *desc);

/*
 * Answers a command with value and a file descriptor, which goes with the reply's first byte (SCM_RIGHTS). Takes fd:
 * it is closed once sent, or when the client goes. A client that already has CONTROL_FDS_MAX fds waiting to be read
 * gets an error instead.
 */
void control_return_fd(struct control *c, uint64_t client, struct json_object *id, struct json_object *value, int fd);

/* A client's role, and its uid in *ret_uid (may be NULL); CONTROL_ROLE_NONE when it has gone. */
enum control_role control_client_role(const struct control *c, uint64_t client, uid_t *ret_uid);

/* Sends an event to every client. data is borrowed and may be NULL. */
void control_event(struct control *c, const char *event, struct json_object *data);

/* Writes out what is queued, waiting at most until deadline: for the last event before the supervisor exits. */
void control_flush(struct control *c, uint64_t deadline);
