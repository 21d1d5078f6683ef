/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "qmp/qmp_encode.h"
#include "supervisor/vm/control.h"
#include "supervisor/log.h"
#include "util/macro.h"
#include "util/time-util.h"

struct client {
	int fd;
	uint64_t serial;
	struct qmp_reader *reader;
	char *out;
	size_t out_len;
	unsigned inflight; /* commands handed on and not yet answered */
	bool closing;	   /* drop once the output is written */
};

/*
 * A client gets at most this many commands answered at a time: beyond it vgpuvm stops reading from it, so that a
 * flood of commands it never reads the replies of fills its own socket, not the supervisor's memory.
 */
#define CONTROL_INFLIGHT_MAX 32

struct control {
	int fd;
	char *path;
	uid_t owner;
	control_command_fn fn;
	void *userdata;
	struct client clients[CONTROL_CLIENTS_MAX];
	uint64_t next_serial;
};

int control_new(const char *path, gid_t gid, control_command_fn fn, void *userdata, struct control **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	/* The runtime directory is ours and locked, so a socket left there by a crash is stale. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, gid == (gid_t)-1 ? 0600 : 0660) < 0 ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || listen(fd, 8) < 0) {
		r = negative_errno();
		close(fd);
		unlink(path);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	c->fd = fd;
	c->owner = getuid();
	c->fn = fn;
	c->userdata = userdata;
	c->next_serial = 1;
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
		c->clients[i].fd = -1;
	*ret = c;
	return 0;
}

static void drop(struct client *cl)
{
	if (cl->fd < 0)
		return;
	close(cl->fd);
	qmp_reader_free(cl->reader);
	free(cl->out);
	*cl = (struct client){ .fd = -1 };
}

void control_free(struct control *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
		drop(&c->clients[i]);
	close(c->fd);
	unlink(c->path);
	free(c->path);
	free(c);
}

static struct client *find(struct control *c, uint64_t serial)
{
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i].fd >= 0 && c->clients[i].serial == serial)
			return &c->clients[i];
	return NULL;
}

/* Queues a line for a client. One that lets 1 MiB pile up is not reading: it is dropped rather than fed. */
static void queue(struct client *cl, char *line)
{
	size_t n;
	char *o;

	if (!line || cl->fd < 0 || cl->closing) {
		free(line);
		return;
	}
	n = strlen(line);
	if (cl->out_len + n > CONTROL_OUTPUT_MAX) {
		log_warning("control: dropping a client that does not read its replies");
		free(line);
		drop(cl);
		return;
	}
	o = realloc(cl->out, cl->out_len + n);
	if (!o) {
		free(line);
		drop(cl);
		return;
	}
	/* The buffer is the client's (cl->out); the analyzer loses it when realloc moves it. */
	ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
	memcpy(o + cl->out_len, line, n);
	cl->out = o;
	cl->out_len += n;
	free(line);
	ANALYZER_IGNORE_END
}

static void flush_one(struct client *cl)
{
	while (cl->out_len > 0) {
		ssize_t n = send(cl->fd, cl->out, cl->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				drop(cl);
			return;
		}
		memmove(cl->out, cl->out + n, cl->out_len - (size_t)n);
		cl->out_len -= (size_t)n;
	}
	if (cl->closing)
		drop(cl);
}

/* Queues the answer to a command the client sent: one fewer in flight. Takes line; a client gone drops it. */
static void answer(struct control *c, uint64_t client, char *line)
{
	struct client *cl = c ? find(c, client) : NULL;

	if (!cl) {
		free(line);
		return;
	}
	if (cl->inflight > 0)
		cl->inflight--;
	queue(cl, line);
}

void control_return(struct control *c, uint64_t client, json_object *id, json_object *value)
{
	char *line = NULL;

	if (qmp_encode_return(id, value, &line) == 0)
		answer(c, client, line);
}

/* An error for something the client sent that never became a command (garbage, a huge line). */
static void protocol_error(struct client *cl, json_object *id, const char *desc)
{
	char *line = NULL;

	if (qmp_encode_error(id, "GenericError", desc, &line) == 0)
		queue(cl, line);
}

void control_error(struct control *c, uint64_t client, json_object *id, const char *class, const char *desc)
{
	char *line = NULL;

	if (qmp_encode_error(id, class, desc, &line) == 0)
		answer(c, client, line);
}

void control_event(struct control *c, const char *event, json_object *data)
{
	struct timespec ts;

	if (!c)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		char *line = NULL;

		if (c->clients[i].fd < 0)
			continue;
		if (qmp_encode_event(event, data, (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000, &line) == 0)
			queue(&c->clients[i], line);
	}
}

int control_attach(struct control *c, int fd, uint64_t *ret_client)
{
	struct client *cl = NULL;
	char *greeting = NULL;

	for (size_t i = 0; i < CONTROL_CLIENTS_MAX && !cl; i++)
		if (c->clients[i].fd < 0)
			cl = &c->clients[i];
	if (!cl) {
		close(fd);
		return -EBUSY;
	}
	*cl = (struct client){ .fd = fd, .serial = c->next_serial++ };
	if (qmp_reader_new(CONTROL_LINE_MAX, &cl->reader) < 0 ||
	    qmp_encode_greeting("vgpuvm", VGPUVM_VERSION, &greeting) < 0) {
		drop(cl);
		return -ENOMEM;
	}
	if (ret_client)
		*ret_client = cl->serial;
	/* As in queue(): the greeting's buffer is the client's, which the analyzer loses when realloc moves it. */
	ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
	queue(cl, greeting);
	flush_one(cl);
	return 0;
	ANALYZER_IGNORE_END
}

static void accept_one(struct control *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	/* The socket's mode keeps strangers out; the peer's credentials are checked too, in case it was opened up. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warning_errno(errno, "control: refused a connection whose credentials cannot be read: %m");
		close(fd);
		return;
	}
	if (cred.uid != 0 && cred.uid != c->owner) {
		log_warning("control: refused a connection from uid %ld", (long)cred.uid);
		close(fd);
		return;
	}
	if (control_attach(c, fd, NULL) == -EBUSY)
		log_warning("control: too many clients; refusing one");
}

/* Hands the client's complete commands on, as far as its in-flight allowance goes. */
static void process(struct control *c, struct client *cl)
{
	uint64_t serial = cl->serial;

	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		int r;

		/* Any reply may have dropped this client (one that lets its replies pile up), and so may the handler. */
		if (!find(c, serial) || cl->closing || cl->inflight >= CONTROL_INFLIGHT_MAX)
			return;
		r = qmp_reader_next(cl->reader, &m);
		if (r == 0)
			return;
		if (r == -EMSGSIZE) {
			/* No one sends a 64 KiB command by mistake; answer, then hang up. */
			protocol_error(cl, NULL, "line too long (the limit is 64 KiB)");
			cl->closing = true;
			return;
		}
		if (r < 0) {
			protocol_error(cl, qmp_reader_error_id(cl->reader), qmp_reader_error(cl->reader));
			continue;
		}
		if (m->type != QMP_MSG_COMMAND) {
			protocol_error(cl, m->id, "expected a command: {\"execute\": ...}");
			continue;
		}
		cl->inflight++;
		if (strcmp(m->name, "qmp_capabilities") == 0) {
			control_return(c, serial, m->id, NULL);
			continue;
		}
		c->fn(c->userdata, serial, m);
	}
}

void control_input(struct control *c, uint64_t client, const void *buf, size_t n)
{
	struct client *cl = find(c, client);

	if (!cl || cl->closing || qmp_reader_feed(cl->reader, buf, n) < 0)
		return;
	process(c, cl);
}

static void read_one(struct control *c, struct client *cl)
{
	char buf[16384];
	ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(cl);
		return;
	}
	control_input(c, cl->serial, buf, (size_t)n);
}

size_t control_pollfds(const struct control *c, struct pollfd *p, size_t max)
{
	size_t n = 0;

	if (!c || max == 0)
		return 0;
	p[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX && n < max; i++)
		if (c->clients[i].fd >= 0)
			p[n++] = (struct pollfd){ .fd = c->clients[i].fd,
						  .events = (short)((c->clients[i].closing ||
								     c->clients[i].inflight >= CONTROL_INFLIGHT_MAX
									     ? 0
									     : POLLIN) |
								    (c->clients[i].out_len ? POLLOUT : 0)) };
	return n;
}

void control_dispatch(struct control *c, const struct pollfd *p, size_t n)
{
	if (!c || n == 0)
		return;
	for (size_t k = 1; k < n; k++) {
		struct client *cl = NULL;

		if (!p[k].revents)
			continue;
		for (size_t i = 0; i < CONTROL_CLIENTS_MAX && !cl; i++)
			if (c->clients[i].fd == p[k].fd)
				cl = &c->clients[i];
		if (!cl)
			continue;
		if (p[k].revents & POLLOUT)
			flush_one(cl);
		if (cl->fd >= 0 && p[k].revents & (POLLIN | POLLHUP | POLLERR))
			read_one(c, cl);
	}
	if (p[0].revents & POLLIN)
		accept_one(c);
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		/* Commands held back by the in-flight limit go on as replies free it; no new bytes will wake them. */
		if (c->clients[i].fd >= 0 && c->clients[i].inflight < CONTROL_INFLIGHT_MAX &&
		    qmp_reader_buffered(c->clients[i].reader) > 0)
			process(c, &c->clients[i]);
		/* Replies made while reading go out now rather than after another poll(). */
		if (c->clients[i].fd >= 0 && c->clients[i].out_len)
			flush_one(&c->clients[i]);
	}
}

void control_flush(struct control *c, uint64_t deadline)
{
	for (;;) {
		struct pollfd p[CONTROL_CLIENTS_MAX];
		size_t n = 0;

		if (!c)
			return;
		for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
			if (c->clients[i].fd >= 0 && c->clients[i].out_len)
				flush_one(&c->clients[i]);
			if (c->clients[i].fd >= 0 && c->clients[i].out_len)
				p[n++] = (struct pollfd){ .fd = c->clients[i].fd, .events = POLLOUT };
		}
		if (n == 0 || poll(p, n, deadline_poll_ms(deadline)) <= 0)
			return;
	}
}
