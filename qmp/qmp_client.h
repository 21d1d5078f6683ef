/* SPDX-License-Identifier: MIT */
/*
 * The client side of QMP as a pure state machine: commands go into an output buffer with fresh ids, bytes read from
 * QEMU are fed in, and replies come out matched to the command that asked. The caller owns the socket and moves the
 * bytes, so this works under any poll loop and is tested without one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct qmp_msg;
struct qmp_client;

/* Creates a client with empty buffers, accepting lines up to QMP_LINE_MAX_DEFAULT. -ENOMEM. */
int qmp_client_new(struct qmp_client **ret);

/* Frees a client, its buffers and its pending commands (their cookies are the caller's). Accepts NULL. */
void qmp_client_free(struct qmp_client *c);

/*
 * Queues {"execute": command, "arguments": args, "id": N}\r\n in the output buffer, with a fresh id counting up from
 * 1. args is borrowed and must be an object or NULL (then there is no "arguments" member). cookie is handed back with
 * the reply. *ret_id, if ret_id is not NULL, gets the id. -EINVAL for an empty command or args that is not an
 * object, -EOVERFLOW once ids run past INT64_MAX, -ENOMEM.
 */
int qmp_client_send(struct qmp_client *c, const char *command, struct json_object *args, void *cookie,
		    uint64_t *ret_id);

/* The bytes waiting to be written. They stay valid until the next call that changes the client. */
void qmp_client_output(const struct qmp_client *c, const char **ret_buf, size_t *ret_len);

/* Drops the first n output bytes, those that were written; partial writes are normal. n is clamped to what is held. */
void qmp_client_output_consume(struct qmp_client *c, size_t n);

/* Hands bytes read from QEMU to the client; they are copied. -ENOMEM. */
int qmp_client_feed(struct qmp_client *c, const void *buf, size_t len);

/*
 * Takes the next message out. Returns 1 with *ret set to the greeting, an event, or a reply to a pending command of
 * this client (then *ret_cookie, if ret_cookie is not NULL, is that command's cookie, and the command is no longer
 * pending; for other messages it is set to NULL); 0 if more bytes are needed; a negative errno as
 * qmp_reader_next(), or -EBADMSG for a command sent to the client; the client stays usable. Replies whose id is
 * unknown, cancelled, not an integer, or absent are dropped and counted.
 */
int qmp_client_next(struct qmp_client *c, struct qmp_msg **ret, void **ret_cookie);

/* The number of commands sent whose reply has not been seen yet. */
size_t qmp_client_pending(const struct qmp_client *c);

/* The number of replies dropped because their id matched no pending command. */
uint64_t qmp_client_dropped(const struct qmp_client *c);

/*
 * Forgets a pending command, e.g. because whoever asked went away; its reply will then be dropped. Returns false if
 * no command with that id is pending.
 */
bool qmp_client_cancel(struct qmp_client *c, uint64_t id);

/* Why the last negative return from qmp_client_next() happened; "" if there was none. Owned by the client. */
const char *qmp_client_error(const struct qmp_client *c);
