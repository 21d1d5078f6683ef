/* SPDX-License-Identifier: MIT */
/*
 * Blocking QMP over a borrowed fd. Every read and write is preceded by poll() with the time left until the deadline,
 * and sockets are read and written with MSG_DONTWAIT, so a blocking fd never blocks past the deadline either.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "qmp/qmp.h"
#include "qmp/qmp_client.h"
#include "qmp/qmp_conn.h"
#include "util/fdpass.h"
#include "util/macro.h"
#include "util/time-util.h"

struct qmp_conn {
	int fd;
	struct qmp_client *client;
	/* Events read while waiting for a reply: events[ev_head, ev_head + n_events). */
	struct qmp_msg **events;
	size_t ev_head;
	size_t n_events;
	size_t cap_events;
	/* The peer closed its end; what is still buffered can be taken out, nothing more comes. */
	bool eof;
	/* send() and recv() said ENOTSOCK once, so read() and write() are used from then on. */
	bool not_socket;
	/* The newest file descriptor the peer sent (SCM_RIGHTS), not yet taken; -1 for none. */
	int fd_received;
	char error[256];
};

int qmp_conn_new(int fd, struct qmp_conn **ret)
{
	_cleanup_free_ struct qmp_conn *c = NULL;
	int k;

	if (fd < 0)
		return -EBADF;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	k = qmp_client_new(&c->client);
	if (k < 0)
		return k;
	c->fd = fd;
	c->fd_received = -1;
	*ret = steal_pointer(&c);
	return 0;
}

void qmp_conn_free(struct qmp_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_events; i++)
		qmp_msg_free(c->events[c->ev_head + i]);
	free(c->events);
	safe_close(c->fd_received);
	qmp_client_free(c->client);
	free(c);
}

_printf_(3, 4) static int conn_fail(struct qmp_conn *c, int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return error;
}

/*
 * Waits until the fd is ready for events, or the deadline passes. Errors and hang-ups count as ready: the read or
 * write that follows reports them.
 */
static int conn_wait(struct qmp_conn *c, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = events };
		int n = poll(&p, 1, deadline_poll_ms(deadline));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0) {
			/* poll() may wake a little early; only the clock decides that the deadline has passed. */
			if (now_usec() >= deadline)
				return -ETIMEDOUT;
			continue;
		}
		if (p.revents & POLLNVAL)
			return -EBADF;
		return 0;
	}
}

/*
 * recv() that also takes the file descriptors that come with the bytes: the newest is kept for qmp_conn_take_fd(), any
 * older one still held is closed. Returns as recv() does, errno set.
 */
static ssize_t conn_recv(struct qmp_conn *c, void *buf, size_t len)
{
	int fds[FDPASS_MAX];
	size_t n_fds = 0;
	ssize_t n = fdpass_recv(c->fd, buf, len, MSG_DONTWAIT, fds, ELEMENTSOF(fds), &n_fds);

	for (size_t i = 0; i < n_fds; i++) {
		safe_close(c->fd_received);
		c->fd_received = fds[i];
	}
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

/* Reads once and feeds the client. 0 also when nothing could be read after all (EINTR, EAGAIN). */
static int conn_read(struct qmp_conn *c, uint64_t deadline)
{
	char buf[64 * 1024];
	ssize_t n;
	int k;

	k = conn_wait(c, POLLIN, deadline);
	if (k < 0)
		return k;
	n = -1;
	if (!c->not_socket) {
		n = conn_recv(c, buf, sizeof(buf));
		if (n < 0 && errno == ENOTSOCK)
			c->not_socket = true;
	}
	if (c->not_socket)
		n = read(c->fd, buf, sizeof(buf));
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		k = negative_errno();
		/* A reset is the peer going away, like EOF, as QEMU does when it exits with our bytes unread. */
		if (k == -ECONNRESET)
			c->eof = true;
		return k;
	}
	if (n == 0) {
		c->eof = true;
		return -ECONNRESET;
	}
	return qmp_client_feed(c->client, buf, (size_t)n);
}

/* Writes all of the client's output. MSG_NOSIGNAL turns a closed peer into EPIPE rather than SIGPIPE. */
static int conn_flush(struct qmp_conn *c, uint64_t deadline)
{
	for (;;) {
		const char *p;
		size_t len;
		ssize_t n = -1;
		int k;

		qmp_client_output(c->client, &p, &len);
		if (len == 0)
			return 0;
		k = conn_wait(c, POLLOUT, deadline);
		if (k < 0)
			return k;
		if (!c->not_socket) {
			n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == ENOTSOCK)
				c->not_socket = true;
		}
		/* POLLOUT on a pipe means room for PIPE_BUF bytes: a blocking write() of that many returns at once. */
		if (c->not_socket)
			n = write(c->fd, p, len < PIPE_BUF ? len : PIPE_BUF);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return negative_errno();
		}
		qmp_client_output_consume(c->client, (size_t)n);
	}
}

/*
 * Reads until the client hands out a message. With greeting set, a reply the client drops (one with no or a foreign
 * id) also ends the wait: nothing but the greeting may come first.
 */
static int conn_next_msg(struct qmp_conn *c, uint64_t deadline, bool greeting, struct qmp_msg **ret, void **ret_cookie)
{
	uint64_t dropped = qmp_client_dropped(c->client);

	for (;;) {
		int k = qmp_client_next(c->client, ret, ret_cookie);

		if (k > 0)
			return 0;
		if (k < 0)
			return conn_fail(c, k, "%s", qmp_client_error(c->client));
		if (greeting && qmp_client_dropped(c->client) != dropped)
			return conn_fail(c, -EPROTO, "expected the QMP greeting, got a reply");
		if (c->eof)
			return conn_fail(c, -ECONNRESET, "QMP peer closed the connection");
		k = conn_read(c, deadline);
		if (k == -ETIMEDOUT)
			return conn_fail(c, k, "timed out waiting for QMP");
		if (k == -ECONNRESET)
			continue; /* Take out what was buffered before the end. */
		if (k < 0)
			return conn_fail(c, k, "reading QMP: %s", strerror(-k));
	}
}

static int queue_event(struct qmp_conn *c, struct qmp_msg *m)
{
	if (c->ev_head + c->n_events == c->cap_events) {
		if (c->ev_head > 0) {
			memmove(c->events, c->events + c->ev_head, c->n_events * sizeof(*c->events));
			c->ev_head = 0;
		} else {
			size_t cap = c->cap_events ? c->cap_events * 2 : 8;
			struct qmp_msg **e = reallocarray(c->events, cap, sizeof(*e));

			if (!e)
				return -ENOMEM;
			c->events = e;
			c->cap_events = cap;
		}
	}
	c->events[c->ev_head + c->n_events++] = m;
	return 0;
}

int qmp_conn_handshake(struct qmp_conn *c, uint64_t deadline, struct qmp_msg **ret_greeting)
{
	_cleanup_qmp_msg_ struct qmp_msg *greeting = NULL, *reply = NULL;
	int k;

	c->error[0] = '\0';
	k = conn_next_msg(c, deadline, true, &greeting, NULL);
	if (k == -ETIMEDOUT)
		return conn_fail(c, k, "timed out waiting for the QMP greeting");
	if (k == -EBADMSG || k == -EMSGSIZE)
		return conn_fail(c, -EPROTO, "expected the QMP greeting: %s", qmp_client_error(c->client));
	if (k < 0)
		return k;
	if (greeting->type != QMP_MSG_GREETING)
		return conn_fail(c, -EPROTO, "expected the QMP greeting, got %s %s",
				 qmp_msg_type_to_string(greeting->type), greeting->name ?: "message");

	k = qmp_conn_execute(c, "qmp_capabilities", NULL, deadline, &reply);
	if (k < 0)
		return k;
	if (reply->type == QMP_MSG_ERROR)
		return conn_fail(c, -EPROTO, "qmp_capabilities failed: %s: %s", reply->error_class, reply->error_desc);

	if (ret_greeting)
		*ret_greeting = steal_pointer(&greeting);
	return 0;
}

int qmp_conn_execute(struct qmp_conn *c, const char *command, struct json_object *args, uint64_t deadline,
		     struct qmp_msg **ret_reply)
{
	/*
	 * Its address is the cookie that marks this call's reply. A cancelled command never hands its cookie back, so
	 * the same stack address in a later call cannot be confused with an earlier one.
	 */
	char marker;
	uint64_t id;
	int k;

	c->error[0] = '\0';
	if (c->eof)
		return conn_fail(c, -ECONNRESET, "QMP peer closed the connection");
	k = qmp_client_send(c->client, command, args, &marker, &id);
	if (k < 0)
		return conn_fail(c, k, "queueing %s: %s", command ?: "(null)", strerror(-k));
	k = conn_flush(c, deadline);
	if (k < 0) {
		qmp_client_cancel(c->client, id);
		if (k == -ETIMEDOUT)
			return conn_fail(c, k, "timed out sending %s", command);
		return conn_fail(c, k, "sending %s: %s", command, strerror(-k));
	}

	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		void *cookie;

		k = conn_next_msg(c, deadline, false, &m, &cookie);
		if (k < 0) {
			qmp_client_cancel(c->client, id);
			if (k == -ETIMEDOUT)
				return conn_fail(c, k, "timed out waiting for the reply to %s", command);
			return k;
		}
		if (m->type == QMP_MSG_EVENT) {
			k = queue_event(c, m);
			if (k < 0) {
				qmp_client_cancel(c->client, id);
				return conn_fail(c, k, "queueing an event: %s", strerror(-k));
			}
			m = NULL;
			continue;
		}
		if (m->type != QMP_MSG_RETURN && m->type != QMP_MSG_ERROR)
			continue;
		if (cookie != &marker)
			continue;
		*ret_reply = steal_pointer(&m);
		return 0;
	}
}

int qmp_conn_next_event(struct qmp_conn *c, uint64_t deadline, struct qmp_msg **ret_event)
{
	c->error[0] = '\0';
	if (c->n_events > 0) {
		*ret_event = c->events[c->ev_head++];
		if (--c->n_events == 0)
			c->ev_head = 0;
		return 0;
	}
	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		int k = conn_next_msg(c, deadline, false, &m, NULL);

		if (k < 0) {
			if (k == -ETIMEDOUT)
				return conn_fail(c, k, "timed out waiting for a QMP event");
			return k;
		}
		if (m->type == QMP_MSG_EVENT) {
			*ret_event = steal_pointer(&m);
			return 0;
		}
	}
}

int qmp_conn_take_fd(struct qmp_conn *c)
{
	return c->fd_received >= 0 ? TAKE_FD(c->fd_received) : -ENOENT;
}

size_t qmp_conn_queued_events(const struct qmp_conn *c)
{
	return c->n_events;
}

struct qmp_client *qmp_conn_client(struct qmp_conn *c)
{
	return c->client;
}

const char *qmp_conn_error(const struct qmp_conn *c)
{
	return c->error;
}
