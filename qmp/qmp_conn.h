/* SPDX-License-Identifier: MIT */
/*
 * A blocking QMP helper over a file descriptor the caller owns, for the supervisor's startup and for CLI tools: each
 * call waits, with poll(), until it is done or its deadline passes. The fd may be blocking or not; it is never closed.
 * Deadlines are absolute CLOCK_MONOTONIC times in microseconds (now_usec() + ...), or USEC_INFINITY for none.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct qmp_msg;
struct qmp_client;
struct qmp_conn;

/* Creates a connection over fd, which is borrowed: it must stay open until qmp_conn_free(). -ENOMEM. */
int qmp_conn_new(int fd, struct qmp_conn **ret);

/* Frees the connection and the events still queued; leaves the fd open. Accepts NULL. */
void qmp_conn_free(struct qmp_conn *c);

/*
 * Reads QEMU's greeting, sends qmp_capabilities and waits for its return. *ret_greeting, if ret_greeting is not NULL,
 * gets the greeting. -ETIMEDOUT when the deadline passes, -ECONNRESET on EOF, -EPROTO if the first message is not a
 * greeting or qmp_capabilities returns an error, another negative errno if reading or writing fails.
 */
int qmp_conn_handshake(struct qmp_conn *c, uint64_t deadline, struct qmp_msg **ret_greeting);

/*
 * Sends a command (args borrowed, an object or NULL) and waits for its reply; events that arrive meanwhile are
 * queued. Returns 0 with *ret_reply set for both a "return" and an "error" reply (look at ->type). Otherwise a
 * negative errno: -ETIMEDOUT, -ECONNRESET on EOF (events read before it stay queued, e.g. SHUTDOWN after quit),
 * -EPIPE if the peer is gone, -EBADMSG or -EMSGSIZE for a line that could not be parsed. After a failure the command
 * is forgotten, so a late reply is dropped and the connection stays usable.
 */
int qmp_conn_execute(struct qmp_conn *c, const char *command, struct json_object *args, uint64_t deadline,
		     struct qmp_msg **ret_reply);

/*
 * Pops the oldest queued event, or waits for one until the deadline (a deadline in the past still takes what is
 * already readable). -ETIMEDOUT, -ECONNRESET on EOF, or another negative errno as qmp_conn_execute().
 */
int qmp_conn_next_event(struct qmp_conn *c, uint64_t deadline, struct qmp_msg **ret_event);

/*
 * The newest file descriptor the peer sent with its bytes (SCM_RIGHTS, received close-on-exec), for the caller to
 * own, or -ENOENT. Only one is kept: an older one is closed when a newer one comes, and the one left is closed by
 * qmp_conn_free(). A caller that expects one with a reply takes (and closes) any held before it sends the command.
 */
int qmp_conn_take_fd(struct qmp_conn *c);

/* The number of events queued and not yet popped. */
size_t qmp_conn_queued_events(const struct qmp_conn *c);

/*
 * The client state underneath, for a caller that moves on to its own poll loop after startup: it holds any bytes
 * already read, and its ids continue. Owned by the connection. Pop the queued events first.
 */
struct qmp_client *qmp_conn_client(struct qmp_conn *c);

/* Why the last call failed, e.g. "timed out waiting for the reply to query-status"; "" if it did not. */
const char *qmp_conn_error(const struct qmp_conn *c);
