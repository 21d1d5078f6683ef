/* SPDX-License-Identifier: MIT */
/*
 * Many status requests from one poll(). Each connection goes: connect (non-blocking; a Unix socket whose backlog is
 * full says EAGAIN, and is tried again shortly) -> the server's credentials checked -> the request written whole
 * (qmp_capabilities and status pipelined: the server answers in order) -> replies read until status's.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "supervisor/cli/ctl_gather.h"
#include "util/macro.h"
#include "util/time-util.h"

/* How long a connection whose listener's backlog was full waits before it tries again. */
#define RETRY_USEC (5 * USEC_PER_MSEC)

enum peer_state {
	PEER_WAITING,	 /* not connected yet (no place, or connect said EAGAIN) */
	PEER_CONNECTING, /* connect said EINPROGRESS */
	PEER_SENDING,
	PEER_READING,
	PEER_DONE,
	PEER_STATE_MAX,
};

struct peer {
	enum peer_state state;
	int fd;
	struct sockaddr_un sa;
	size_t sent;
	uint64_t retry_at;
	struct qmp_reader *reader;
	json_object *status;
};

static void peer_end(struct peer *p, size_t *active)
{
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
		(*active)--;
	}
	qmp_reader_free(p->reader);
	p->reader = NULL;
	p->state = PEER_DONE;
}

/* As root, only a supervisor that root runs is believed: whoever listens at an environment-given path answers root. */
static bool server_trusted(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (geteuid() != 0)
		return true;
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
}

static void peer_connected(struct peer *p, size_t *active)
{
	if (!server_trusted(p->fd) || qmp_reader_new(0, &p->reader) < 0) {
		peer_end(p, active);
		return;
	}
	p->state = PEER_SENDING;
}

static void peer_connect(struct peer *p, size_t *active, uint64_t now)
{
	if (p->fd < 0) {
		p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (p->fd < 0) {
			/* Out of descriptors: wait for a place, as for a full backlog. */
			p->retry_at = now + RETRY_USEC;
			return;
		}
		(*active)++;
	}
	if (connect(p->fd, (struct sockaddr *)&p->sa, sizeof(p->sa)) == 0)
		peer_connected(p, active);
	else if (errno == EINPROGRESS)
		p->state = PEER_CONNECTING;
	else if (errno == EAGAIN) {
		/* The listener's backlog is full: the socket is not connecting, so close it and try again later. */
		close(p->fd);
		p->fd = -1;
		(*active)--;
		p->state = PEER_WAITING;
		p->retry_at = now + RETRY_USEC;
	} else
		/* ENOENT or ECONNREFUSED: no supervisor; EACCES: not ours to ask. */
		peer_end(p, active);
}

static void peer_send(struct peer *p, const char *req, size_t len, size_t *active)
{
	ssize_t k = send(p->fd, req + p->sent, len - p->sent, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (k < 0) {
		if (errno != EAGAIN && errno != EINTR)
			peer_end(p, active);
		return;
	}
	p->sent += (size_t)k;
	if (p->sent == len)
		p->state = PEER_READING;
}

static void peer_read(struct peer *p, size_t *active)
{
	char buf[16384];
	ssize_t k = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (k < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (k <= 0 || qmp_reader_feed(p->reader, buf, (size_t)k) < 0) {
		peer_end(p, active);
		return;
	}
	for (;;) {
		struct qmp_msg *m = NULL;
		int r = qmp_reader_next(p->reader, &m);

		if (r == 0)
			return;
		if (r < 0) {
			peer_end(p, active);
			return;
		}
		/* The greeting, qmp_capabilities' return (id 1) and events pass; status's return (id 2) ends it. */
		if (m->id && json_object_is_type(m->id, json_type_int) && json_object_get_int64(m->id) == 2) {
			if (m->type == QMP_MSG_RETURN && json_object_is_type(m->data, json_type_object))
				p->status = json_object_get(m->data);
			qmp_msg_free(m);
			peer_end(p, active);
			return;
		}
		if (m->type == QMP_MSG_ERROR) {
			qmp_msg_free(m);
			peer_end(p, active);
			return;
		}
		qmp_msg_free(m);
	}
}

static short peer_events(const struct peer *p)
{
	return p->state == PEER_CONNECTING || p->state == PEER_SENDING ? POLLOUT : POLLIN;
}

static bool peer_polled(const struct peer *p)
{
	return p->fd >= 0 && p->state != PEER_WAITING && p->state != PEER_DONE;
}

static int gather(struct peer *peers, size_t n, const char *req, uint64_t deadline)
{
	_cleanup_free_ struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));
	_cleanup_free_ size_t *which = calloc(n ? n : 1, sizeof(*which));
	size_t active = 0, len = strlen(req);

	if (!pfd || !which)
		return -ENOMEM;
	for (;;) {
		uint64_t now = now_usec(), wake = deadline;
		size_t np = 0, left = 0;
		int timeout;

		for (size_t i = 0; i < n; i++) {
			struct peer *p = &peers[i];

			if (p->state == PEER_WAITING && active < CTL_GATHER_INFLIGHT_MAX && p->retry_at <= now)
				peer_connect(p, &active, now);
			if (p->state == PEER_SENDING)
				peer_send(p, req, len, &active);
			if (p->state == PEER_DONE)
				continue;
			left++;
			if (p->state == PEER_WAITING) {
				uint64_t at = p->retry_at > now ? p->retry_at : now + RETRY_USEC;
				wake = at < wake ? at : wake;
			}
			if (peer_polled(p)) {
				pfd[np] = (struct pollfd){ .fd = p->fd, .events = peer_events(p) };
				which[np++] = i;
			}
		}
		if (left == 0 || now >= deadline)
			break;
		timeout = deadline_poll_ms(wake);
		if (poll(pfd, np, timeout) < 0 && errno != EINTR)
			return -errno;
		for (size_t j = 0; j < np; j++) {
			struct peer *p = &peers[which[j]];
			int err = 0;
			socklen_t elen = sizeof(err);

			if (!pfd[j].revents)
				continue;
			if (p->state == PEER_CONNECTING) {
				if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0)
					peer_end(p, &active);
				else
					peer_connected(p, &active);
			} else if (p->state == PEER_SENDING)
				peer_send(p, req, len, &active);
			else if (p->state == PEER_READING)
				peer_read(p, &active);
		}
	}
	/* Whoever has not answered by the deadline is left out. */
	for (size_t i = 0; i < n; i++)
		if (peers[i].state != PEER_DONE)
			peer_end(&peers[i], &active);
	return 0;
}

int ctl_gather_status(const char *base, char *const *names, size_t n, bool ask_qemu, uint64_t deadline,
		      json_object ***ret)
{
	_cleanup_free_ struct peer *peers = calloc(n ? n : 1, sizeof(*peers));
	json_object **out;
	const char *req = ask_qemu ? "{\"execute\": \"qmp_capabilities\", \"id\": 1}\n"
				     "{\"execute\": \"status\", \"id\": 2}\n"
				   : "{\"execute\": \"qmp_capabilities\", \"id\": 1}\n"
				     "{\"execute\": \"status\", \"arguments\": {\"ask_qemu\": false}, \"id\": 2}\n";
	int r;

	if (!peers)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct peer *p = &peers[i];
		int k;

		*p = (struct peer){ .state = PEER_WAITING, .fd = -1, .sa = { .sun_family = AF_UNIX } };
		k = snprintf(p->sa.sun_path, sizeof(p->sa.sun_path), "%s/%s/control", base, names[i]);
		/* A path too long for a socket has no supervisor that could be asked. */
		if (k < 0 || (size_t)k >= sizeof(p->sa.sun_path))
			p->state = PEER_DONE;
	}
	r = gather(peers, n, req, deadline);
	if (r < 0) {
		for (size_t i = 0; i < n; i++) {
			safe_close(peers[i].fd);
			qmp_reader_free(peers[i].reader);
			json_object_put(peers[i].status);
		}
		return r;
	}
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out) {
		for (size_t i = 0; i < n; i++)
			json_object_put(peers[i].status);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = peers[i].status;
	*ret = out;
	return 0;
}

void ctl_gather_free(json_object **st, size_t n)
{
	if (!st)
		return;
	for (size_t i = 0; i < n; i++)
		json_object_put(st[i]);
	free(st);
}
