/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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
#include "supervisor/vm/refusals.h"
#include "util/fdpass.h"
#include "util/macro.h"
#include "util/peercred.h"
#include "util/time-util.h"

struct client {
	int fd;
	uint64_t serial;
	uid_t uid;
	enum control_role role;
	struct fdpass fds; /* to go out with replies queued in out */
	struct qmp_reader *reader;
	char *out;
	size_t out_len;
	size_t out_cap;
	unsigned inflight;     /* commands handed on and not yet answered */
	bool closing;	       /* drop once the output is written */
	uint64_t connected;    /* when it was let in (monotonic usec) */
	uint64_t last_command; /* when it last sent a command, 0 for never */
	unsigned errors;       /* lines it sent that were no command */
	bool backlog;	       /* complete lines wait for the next round: nothing more is read until they are done */
};

/*
 * A client has one command worked on at a time: until it is answered vgpuvm reads nothing more from it. So a flood
 * of commands it never reads the replies of fills its own socket, not the supervisor's memory, and the commands that
 * go on to QEMU's monitor are at most one per client: the supervisor's own (a shutdown step's quit) never wait behind
 * a crowd's.
 */
#define CONTROL_INFLIGHT_MAX 1

struct control {
	int fd;
	char *path;
	uid_t owner;
	gid_t gid;		 /* whose members may connect; (gid_t)-1 for none */
	struct refusals refused; /* connections refused for who their peer is, per uid */
	control_command_fn fn;
	void *userdata;
	struct client clients[CONTROL_CLIENTS_MAX];
	uint64_t next_serial;
	/* Clients turned away for want of room, made room for, or dropped for not reading their replies since the last
	 * warning: said at most once per CONTROL_WARN_USEC. */
	unsigned turned_away, evicted, slow;
	uint64_t warned;
};

/* How many connections one poll round takes from the backlog, and how long that backlog is. */
#define CONTROL_ACCEPT_MAX 16
#define CONTROL_BACKLOG 64
/*
 * The lines of one client handled in one poll round; the rest wait for the next round. So a client that sends
 * thousands of lines at once (garbage, say) costs the others one short turn per round, not a long wait.
 */
#define CONTROL_LINES_PER_ROUND 16
/* A client that has this much output waiting is not reading its replies (a status is a few hundred bytes). */
#define CONTROL_READING_MAX (64 * 1024)
/* A burst of clients that must be turned away is logged once per this long, not once per client. */
#define CONTROL_WARN_USEC (10 * USEC_PER_SEC)

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
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || listen(fd, CONTROL_BACKLOG) < 0) {
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
	c->gid = gid;
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
	fdpass_clear(&cl->fds);
	qmp_reader_free(cl->reader);
	free(cl->out);
	*cl = (struct client){ .fd = -1 };
}

void control_free(struct control *c)
{
	if (!c)
		return;
	/* What was refused since the last line of each uid is said now, as no later refusal will. */
	for (size_t i = 0; i < REFUSALS_SLOTS; i++)
		if (c->refused.slot[i].used && c->refused.slot[i].count > 0)
			log_warning("control: refused %u more connections from uid %ld", c->refused.slot[i].count,
				    (long)c->refused.slot[i].uid);
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

/*
 * Queues a line for a client, with fd (or -1) tied to its first byte; takes both. One that lets 1 MiB pile up is not
 * reading: it is dropped rather than fed. The buffer grows by doubling, so that filling it costs a few copies, not one
 * per line.
 */
static void queue_fd(struct control *c, struct client *cl, char *line, int fd)
{
	size_t n, cap;
	char *o;

	if (!line || cl->fd < 0 || cl->closing) {
		free(line);
		safe_close(fd);
		return;
	}
	n = strlen(line);
	if (cl->out_len + n > CONTROL_OUTPUT_MAX) {
		free(line);
		safe_close(fd);
		drop(cl);
		c->slow++;
		return;
	}
	if (cl->out_len + n > cl->out_cap) {
		for (cap = cl->out_cap ? cl->out_cap : 1024; cap < cl->out_len + n; cap *= 2)
			;
		o = realloc(cl->out, cap);
		if (!o) {
			free(line);
			safe_close(fd);
			drop(cl);
			return;
		}
		cl->out = o;
		cl->out_cap = cap;
	}
	/* A reply must not go out without its fd (fdpass_add() closes it when it fails): the client goes instead. */
	if (fd >= 0 && fdpass_add(&cl->fds, cl->out_len, fd) < 0) {
		free(line);
		drop(cl);
		return;
	}
	/* The buffer is the client's (cl->out); the analyzer loses it when realloc moves it. */
	ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
	memcpy(cl->out + cl->out_len, line, n);
	cl->out_len += n;
	free(line);
	ANALYZER_IGNORE_END
}

/* The line's bytes go into the client's buffer (cl->out), which the analyzer loses when realloc moves it. */
ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
static void queue(struct control *c, struct client *cl, char *line)
{
	queue_fd(c, cl, line, -1);
}
ANALYZER_IGNORE_END

static void flush_one(struct client *cl)
{
	while (cl->out_len > 0) {
		ssize_t n = fdpass_send(&cl->fds, cl->fd, cl->out, cl->out_len);

		if (n < 0) {
			if (n == -EINTR)
				continue;
			if (n != -EAGAIN)
				drop(cl);
			return;
		}
		memmove(cl->out, cl->out + n, cl->out_len - (size_t)n);
		cl->out_len -= (size_t)n;
	}
	/* A buffer that grew for a client that read slowly is given back once it is written out. */
	if (cl->out_cap > CONTROL_READING_MAX) {
		cl->out = mfree(cl->out);
		cl->out_cap = 0;
	}
	if (cl->closing)
		drop(cl);
}

/* Queues the answer to a command the client sent: one fewer in flight. Takes line and fd; a client gone drops them. */
static void answer(struct control *c, uint64_t client, char *line, int fd)
{
	struct client *cl = c ? find(c, client) : NULL;

	if (!cl) {
		free(line);
		safe_close(fd);
		return;
	}
	if (cl->inflight > 0)
		cl->inflight--;
	queue_fd(c, cl, line, fd);
}

void control_return(struct control *c, uint64_t client, json_object *id, json_object *value)
{
	char *line = NULL;

	if (qmp_encode_return(id, value, &line) == 0)
		answer(c, client, line, -1);
}

void control_return_fd(struct control *c, uint64_t client, json_object *id, json_object *value, int fd)
{
	struct client *cl = c ? find(c, client) : NULL;
	char *line = NULL;

	/* Each fd waiting in a client's queue holds a screenshot in memory: a client that does not read gets few. */
	if (cl && cl->fds.n >= CONTROL_FDS_MAX) {
		safe_close(fd);
		control_error(c, client, id, "GenericError", "too many replies with a file descriptor wait to be read");
		return;
	}
	if (qmp_encode_return(id, value, &line) == 0)
		answer(c, client, line, fd);
	else
		safe_close(fd);
}

enum control_role control_client_role(const struct control *c, uint64_t client, uid_t *ret_uid)
{
	for (size_t i = 0; c && i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i].fd >= 0 && c->clients[i].serial == client) {
			if (ret_uid)
				*ret_uid = c->clients[i].uid;
			return c->clients[i].role;
		}
	return CONTROL_ROLE_NONE;
}

/* An error for something the client sent that never became a command (garbage, a huge line). */
static void protocol_error(struct control *c, struct client *cl, json_object *id, const char *desc)
{
	char *line = NULL;

	if (qmp_encode_error(id, "GenericError", desc, &line) == 0)
		queue(c, cl, line);
}

void control_error(struct control *c, uint64_t client, json_object *id, const char *class, const char *desc)
{
	char *line = NULL;

	if (qmp_encode_error(id, class, desc, &line) == 0)
		answer(c, client, line, -1);
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
		if (qmp_encode_event(event, data, (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000,
				     &line) == 0)
			queue(c, &c->clients[i], line);
	}
}

/*
 * With every place taken, how readily a client makes room for a new one: -1 never, else the higher the sooner. A
 * client that behaves is kept: it sent commands and nothing else, reads its replies and has no half line waiting
 * (vgpuvm's own client, `vgpuvm stop` waiting for the VM to end included). The others go: first one that sent
 * garbage, then one that does not read its replies, one that has stalled half-way through a line, and last one that
 * has not sent a command yet, the oldest first (vgpuvm's own client sends its command within a millisecond of the
 * greeting). So a crowd of clients that connect and misbehave takes places from each other, never from one that asks
 * for something; when every place is held by clients that behave, a new one is turned away, unless it is root or
 * the VM's owner (victim_for()).
 */
static int rank(const struct client *cl)
{
	if (cl->fd < 0)
		return -1;
	if (cl->errors > 0)
		return 4;
	if (cl->out_len >= CONTROL_READING_MAX)
		return 3;
	if (qmp_reader_buffered(cl->reader) > 0)
		return 2;
	if (cl->last_command == 0)
		return 1;
	return -1;
}

static struct client *victim(struct control *c)
{
	struct client *v = NULL;
	int best = -1;

	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct client *cl = &c->clients[i];
		int k = rank(cl);

		/* Among equals, the one that has been there longest. */
		if (k > best || (k == best && k >= 0 && cl->connected < v->connected)) {
			v = cl;
			best = k;
		}
	}
	return best >= 0 ? v : NULL;
}

/*
 * With every place held by clients that behave: for root or the VM's owner, the group member that has been there
 * longest makes room, so that the group's members, whatever they do, can never keep root from stopping the VM.
 */
static struct client *victim_for(struct control *c, enum control_role role)
{
	struct client *v = victim(c);

	if (v || role == CONTROL_ROLE_GROUP)
		return v;
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct client *cl = &c->clients[i];

		if (cl->fd >= 0 && cl->role == CONTROL_ROLE_GROUP && (!v || cl->connected < v->connected))
			v = cl;
	}
	return v;
}

/* Says how many clients were turned away, made room for or dropped as slow, at most once per CONTROL_WARN_USEC. */
static void warn_crowd(struct control *c)
{
	uint64_t now = now_usec();

	if (c->turned_away + c->evicted + c->slow == 0 || (c->warned && now - c->warned < CONTROL_WARN_USEC))
		return;
	if (c->slow)
		log_warning("control: dropped %u client%s that did not read their replies", c->slow,
			    c->slow == 1 ? "" : "s");
	if (c->turned_away + c->evicted)
		log_warning(
		    "control: too many clients: %u turned away, %u disconnected to make room (at most %d at once)",
		    c->turned_away, c->evicted, CONTROL_CLIENTS_MAX);
	c->turned_away = c->evicted = c->slow = 0;
	c->warned = now;
}

static void read_one(struct control *c, struct client *cl);

/*
 * Before anyone is pushed out to make room: reads what the clients sent since the last poll round, and lets go of
 * those that hung up. A client that has asked for something by now is served rather than taken for one that never
 * asks, and a crowd that connects and hangs up at once does not hold every place until the next round.
 */
static void catch_up(struct control *c)
{
	struct pollfd p[CONTROL_CLIENTS_MAX];

	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		const struct client *cl = &c->clients[i];

		p[i] = (struct pollfd){ .fd = cl->fd,
					.events = !cl->closing && !cl->backlog && cl->inflight < CONTROL_INFLIGHT_MAX
						      ? POLLIN
						      : 0 };
	}
	if (poll(p, CONTROL_CLIENTS_MAX, 0) <= 0)
		return;
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (c->clients[i].fd >= 0 && p[i].revents & (POLLIN | POLLHUP | POLLERR))
			read_one(c, &c->clients[i]);
}

static enum control_role role_of(const struct control *c, int fd, const struct ucred *cred)
{
	if (cred->uid == 0)
		return CONTROL_ROLE_ROOT;
	if (cred->uid == c->owner)
		return CONTROL_ROLE_OWNER;
	if (c->gid != (gid_t)-1 && peer_in_group(fd, cred, c->gid))
		return CONTROL_ROLE_GROUP;
	return CONTROL_ROLE_NONE;
}

/*
 * Says that a uid was refused, and why: its first time, then at most once a minute with how many since (see
 * refusals.h), so that knocking on the socket cannot flood the log.
 */
static void log_refused(struct control *c, uid_t uid, const char *why)
{
	uint64_t since;
	unsigned n;

	if (!refusals_note(&c->refused, uid, now_usec(), &n, &since))
		return;
	if (since == 0)
		log_warning("control: refused a connection from uid %ld: %s", (long)uid, why);
	else
		log_warning("control: refused %u connections from uid %ld in the last %.0f s", n, (long)uid,
			    (double)since / 1e6);
}

/* Takes fd, whose peer is let in as uid with role, as a client: in a free place, or in one made for it. */
static int attach(struct control *c, int fd, uid_t uid, enum control_role role, uint64_t *ret_client)
{
	struct client *cl = NULL;
	char *greeting = NULL;

	for (int pass = 0; pass < 2 && !cl; pass++) {
		if (pass == 1)
			catch_up(c);
		for (size_t i = 0; i < CONTROL_CLIENTS_MAX && !cl; i++)
			if (c->clients[i].fd < 0)
				cl = &c->clients[i];
	}
	if (!cl && (cl = victim_for(c, role))) {
		static const char bye[] = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"too many clients: "
					  "disconnected to make room\"}}\r\n";
		/* A word of why, if its socket has room; it is gone either way. */
		ssize_t n _unused_ = send(cl->fd, bye, sizeof(bye) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);

		drop(cl);
		c->evicted++;
	}
	if (!cl) {
		close(fd);
		c->turned_away++;
		return -EBUSY;
	}
	*cl =
	    (struct client){ .fd = fd, .serial = c->next_serial++, .uid = uid, .role = role, .connected = now_usec() };
	if (qmp_reader_new(CONTROL_LINE_MAX, &cl->reader) < 0 ||
	    qmp_encode_greeting("vgpuvm", VGPUVM_VERSION, &greeting) < 0) {
		drop(cl);
		return -ENOMEM;
	}
	if (ret_client)
		*ret_client = cl->serial;
	/* The greeting's buffer is the client's, which the analyzer loses when realloc moves it. */
	ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
	queue(c, cl, greeting);
	flush_one(cl);
	return 0;
	ANALYZER_IGNORE_END
}

int control_attach(struct control *c, int fd, uint64_t *ret_client)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	enum control_role role = CONTROL_ROLE_NONE;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		role = role_of(c, fd, &cred);
	if (role == CONTROL_ROLE_NONE) {
		close(fd);
		return -EACCES;
	}
	return attach(c, fd, cred.uid, role, ret_client);
}

/* Takes one connection from the backlog; false when there was none. */
static bool accept_one(struct control *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	enum control_role role;
	int fd;

	fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return errno == ECONNABORTED || errno == EINTR;
	/* The socket's mode keeps strangers out; the peer's credentials are checked too, in case it was opened up. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warning_errno(errno, "control: refused a connection whose credentials cannot be read: %m");
		close(fd);
		return true;
	}
	role = role_of(c, fd, &cred);
	if (role == CONTROL_ROLE_NONE) {
		log_refused(c, cred.uid,
			    c->gid != (gid_t)-1 ? "not root, the VM's owner or a member of its group"
						: "not root or the VM's owner");
		close(fd);
		return true;
	}
	attach(c, fd, cred.uid, role, NULL);
	return true;
}

/* Hands the client's complete commands on, as far as its in-flight allowance goes. */
static void process(struct control *c, struct client *cl)
{
	uint64_t serial = cl->serial;
	unsigned budget = CONTROL_LINES_PER_ROUND;

	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		int r;

		/* Any reply may have dropped this client (one that lets its replies pile up), and so may the handler.
		 */
		if (!find(c, serial) || cl->closing || cl->inflight >= CONTROL_INFLIGHT_MAX)
			return;
		if (budget-- == 0) {
			cl->backlog = true;
			return;
		}
		r = qmp_reader_next(cl->reader, &m);
		if (r == 0) {
			cl->backlog = false;
			return;
		}
		if (r < 0)
			cl->errors++;
		if (r == -EMSGSIZE) {
			/* No one sends a 64 KiB command by mistake; answer, then hang up. */
			protocol_error(c, cl, NULL, "line too long (the limit is 64 KiB)");
			cl->closing = true;
			return;
		}
		if (r < 0) {
			protocol_error(c, cl, qmp_reader_error_id(cl->reader), qmp_reader_error(cl->reader));
			continue;
		}
		if (m->type != QMP_MSG_COMMAND) {
			cl->errors++;
			protocol_error(c, cl, m->id, "expected a command: {\"execute\": ...}");
			continue;
		}
		cl->inflight++;
		cl->last_command = now_usec();
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
	for (size_t i = 0; i < CONTROL_CLIENTS_MAX && n < max; i++) {
		const struct client *cl = &c->clients[i];
		bool read = !cl->closing && !cl->backlog && cl->inflight < CONTROL_INFLIGHT_MAX;

		if (cl->fd < 0)
			continue;
		/* A backlog asks for POLLOUT, which a socket with room has at once: poll() returns and the next round
		 * takes the client's next lines, without waiting for anything else to happen. */
		p[n++] = (struct pollfd){ .fd = cl->fd,
					  .events = (short)((read ? POLLIN : 0) |
							    (cl->out_len || cl->backlog ? POLLOUT : 0)) };
	}
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
	/* Several at a time, so that a burst of connections does not wait in the backlog one poll round each. */
	for (int i = 0; i < CONTROL_ACCEPT_MAX && p[0].revents & POLLIN; i++)
		if (!accept_one(c))
			break;
	warn_crowd(c);
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
