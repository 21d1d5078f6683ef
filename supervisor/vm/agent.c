/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmp/ga.h"
#include "supervisor/log.h"
#include "supervisor/vm/agent.h"
#include "util/macro.h"
#include "util/time-util.h"
#include "util/utf8.h"

/* How old the addresses may be before a status asks the agent again, and how long a hello may go unanswered before a
 * status says it again. */
#define AGENT_REFRESH_USEC (5 * USEC_PER_SEC)
#define AGENT_ADDRESSES_MAX 32
#define AGENT_READS_PER_ROUND 16
/* A guest can open and close its port at will: its comings and goings are logged at most once in this time each. */
#define AGENT_LOG_USEC (10 * USEC_PER_SEC)

struct agent {
	int fd; /* -1: absent, or the socket ended */
	struct ga *ga;
	bool connected;
	uint64_t hello_at;
	/* The ids of the questions in flight, 0 for none. */
	uint64_t info_id, os_id, net_id, shutdown_id;
	uint64_t net_at;		       /* when the addresses were last asked for */
	uint64_t up_logged_at, down_logged_at; /* when a connection and a loss were last logged at info */
	int os_level;			       /* the OS's line is logged as its connection was */
	char *version;
	struct ga_osinfo os;
	bool have_os;
	struct ga_address addr[AGENT_ADDRESSES_MAX];
	int n_addr; /* -1: not known */
};

/* LOG_INFO, or LOG_DEBUG when the same line was logged at info less than AGENT_LOG_USEC ago. */
static int level_for(uint64_t *logged_at, uint64_t now)
{
	if (*logged_at && now - *logged_at < AGENT_LOG_USEC)
		return LOG_DEBUG;
	*logged_at = now;
	return LOG_INFO;
}

static const char *const state_names[AGENT_STATE_MAX] = {
	[AGENT_ABSENT] = "absent",
	[AGENT_WAITING] = "waiting",
	[AGENT_CONNECTED] = "connected",
};

const char *agent_state_to_string(enum agent_state s)
{
	return s < AGENT_STATE_MAX ? state_names[s] : NULL;
}

int agent_new(int fd, struct agent **ret)
{
	struct agent *a = calloc(1, sizeof(*a));
	int r;

	if (!a) {
		safe_close(fd);
		return -ENOMEM;
	}
	a->fd = fd;
	a->n_addr = -1;
	if (fd >= 0 && (r = ga_new(&a->ga)) < 0) {
		agent_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

static void forget(struct agent *a)
{
	a->info_id = a->os_id = a->net_id = a->shutdown_id = 0;
	a->version = mfree(a->version);
	ga_osinfo_done(&a->os);
	a->have_os = false;
	a->n_addr = -1;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	forget(a);
	ga_free(a->ga);
	safe_close(a->fd);
	free(a);
}

enum agent_state agent_get_state(const struct agent *a)
{
	if (!a || !a->ga)
		return AGENT_ABSENT;
	return a->connected ? AGENT_CONNECTED : AGENT_WAITING;
}

/* Writes what is queued, as far as the socket takes it now; the rest waits for POLLOUT. */
static unsigned flush(struct agent *a)
{
	const char *buf;
	size_t len;

	if (a->fd < 0)
		return 0;
	ga_output(a->ga, &buf, &len);
	while (len > 0) {
		ssize_t n = send(a->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			log_debug("the guest agent's socket ended: %m");
			a->fd = safe_close(a->fd);
			if (a->connected) {
				a->connected = false;
				return AGENT_EV_DOWN;
			}
			return 0;
		}
		ga_output_consume(a->ga, (size_t)n);
		ga_output(a->ga, &buf, &len);
	}
	return 0;
}

/* A sync id below 2^53 (JSON carries it exactly), never 0, and unguessable to the guest. */
static uint64_t new_sync_id(uint64_t now)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = now ^ ((uint64_t)getpid() << 32);
	return (id & ((UINT64_C(1) << 52) - 1)) | 1;
}

void agent_hello(struct agent *a, uint64_t now)
{
	if (!a || !a->ga || a->fd < 0)
		return;
	forget(a);
	a->connected = false;
	a->hello_at = now;
	if (ga_sync(a->ga, new_sync_id(now)) < 0)
		return;
	(void)flush(a);
}

unsigned agent_port(struct agent *a, bool open, uint64_t now)
{
	bool was = a && a->connected;

	if (!a || !a->ga)
		return 0;
	if (open) {
		log_debug("the guest opened the agent's port");
		agent_hello(a, now);
	} else {
		log_debug("the guest closed the agent's port");
		a->connected = false;
	}
	if (was && !a->connected) {
		log_full_errno(level_for(&a->down_logged_at, now), 0, "the guest agent went away");
		return AGENT_EV_DOWN;
	}
	return 0;
}

size_t agent_pollfds(const struct agent *a, struct pollfd *p, size_t max)
{
	const char *buf;
	size_t len;

	if (!a || a->fd < 0 || max < 1)
		return 0;
	ga_output(a->ga, &buf, &len);
	p[0] = (struct pollfd){ .fd = a->fd, .events = POLLIN | (len ? POLLOUT : 0) };
	return 1;
}

static void ask(struct agent *a, const char *command, uint64_t *ret_id)
{
	if (ga_send(a->ga, command, NULL, ret_id) < 0)
		*ret_id = 0;
}

static void on_return(struct agent *a, const struct ga_reply *r, uint64_t now)
{
	json_object *v;

	if (r->id == a->info_id) {
		a->info_id = 0;
		if (json_object_object_get_ex(r->data, "version", &v) && json_object_is_type(v, json_type_string) &&
		    strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v) &&
		    json_object_get_string_len(v) < 64) {
			free(a->version);
			a->version = strdup(json_object_get_string(v));
		}
	} else if (r->id == a->os_id) {
		a->os_id = 0;
		ga_osinfo_done(&a->os);
		a->have_os = ga_osinfo_parse(r->data, &a->os) == 0;
		if (a->have_os) {
			/* The guest's words: control characters escaped, so that they cannot forge log lines. */
			_cleanup_free_ char *ver = utf8_escape_controls(a->version ?: ""),
					    *os = utf8_escape_controls(a->os.pretty_name ?: a->os.name ?: "an unnamed OS"),
					    *k = utf8_escape_controls(a->os.kernel_release ?: "?");

			log_full_errno(a->os_level, 0, "the guest agent%s%s says the guest runs %s (kernel %s)",
				       ver && *ver ? " " : "", ver ?: "", os ?: "?", k ?: "?");
		}
	} else if (r->id == a->net_id) {
		int n = ga_addresses_parse(r->data, a->addr, ELEMENTSOF(a->addr));

		a->net_id = 0;
		a->net_at = now;
		a->n_addr = n < 0 ? 0 : n;
	}
}

static unsigned on_reply(struct agent *a, const struct ga_reply *r, uint64_t now)
{
	switch (r->type) {
	case GA_REPLY_SYNCED:
		a->connected = true;
		a->os_level = level_for(&a->up_logged_at, now);
		log_full_errno(a->os_level, 0, "the guest agent answered, %.3f s after it was greeted",
			       (double)(now - a->hello_at) / 1e6);
		ask(a, "guest-info", &a->info_id);
		ask(a, "guest-get-osinfo", &a->os_id);
		ask(a, "guest-network-get-interfaces", &a->net_id);
		a->net_at = now;
		return AGENT_EV_UP;
	case GA_REPLY_RETURN:
		on_return(a, r, now);
		return 0;
	case GA_REPLY_ERROR:
		if (r->id == a->shutdown_id) {
			_cleanup_free_ char *c = utf8_escape_controls(r->error_class),
					    *d = utf8_escape_controls(r->error_desc);

			log_warning("the guest agent refused guest-shutdown: %s: %s", c ?: "?", d ?: "?");
			a->shutdown_id = 0;
			return AGENT_EV_REFUSED;
		}
		/* An agent without a command (an old one, or one whose admin disabled it) leaves its part empty. */
		log_debug("the guest agent answered command %" PRIu64 " with %s: %s", r->id, r->error_class,
			  r->error_desc);
		if (r->id == a->info_id)
			a->info_id = 0;
		else if (r->id == a->os_id)
			a->os_id = 0;
		else if (r->id == a->net_id) {
			a->net_id = 0;
			a->net_at = now;
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * Reads what the agent sent, at most AGENT_READS_PER_ROUND buffers a round: the guest writes as fast as it likes, and
 * the loop's other fds (QMP, signals, the control socket, the stop's deadline) must not wait behind it.
 */
static unsigned read_agent(struct agent *a, uint64_t now)
{
	char buf[16384];
	unsigned ev = 0;

	for (int i = 0; i < AGENT_READS_PER_ROUND && a->fd >= 0; i++) {
		ssize_t n = recv(a->fd, buf, sizeof(buf), MSG_DONTWAIT);
		int k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* QEMU closed its end: it is exiting. */
			a->fd = safe_close(a->fd);
			if (a->connected)
				ev |= AGENT_EV_DOWN;
			a->connected = false;
			break;
		}
		if (ga_feed(a->ga, buf, (size_t)n) < 0) {
			log_warning("Out of memory reading the guest agent");
			break;
		}
		for (;;) {
			struct ga_reply r = {};

			k = ga_next(a->ga, &r);
			if (k == 0 || k == -ENOMEM)
				break;
			if (k < 0) {
				log_debug("Ignoring a bad reply from the guest agent: %s", ga_error(a->ga));
				continue;
			}
			ev |= on_reply(a, &r, now);
			ga_reply_done(&r);
		}
	}
	return ev;
}

unsigned agent_dispatch(struct agent *a, const struct pollfd *p, size_t n, uint64_t now)
{
	unsigned ev = 0;

	if (!a || n < 1 || a->fd < 0 || p[0].fd != a->fd)
		return 0;
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
		ev |= read_agent(a, now);
	if (a->fd >= 0 && (p[0].revents & POLLOUT))
		ev |= flush(a);
	/* Replies may have asked more. */
	if (a->fd >= 0)
		ev |= flush(a);
	return ev;
}

int agent_shutdown(struct agent *a)
{
	json_object *args;
	int r;

	if (!a || !a->connected || a->fd < 0)
		return -ENOTCONN;
	args = json_object_new_object();
	if (!args)
		return -ENOMEM;
	json_object_object_add(args, "mode", json_object_new_string("powerdown"));
	r = ga_send(a->ga, "guest-shutdown", args, &a->shutdown_id);
	json_object_put(args);
	if (r < 0)
		return r;
	/* A socket that ended here is the step failing: the next one is taken at once. */
	flush(a);
	return a->fd < 0 ? -ENOTCONN : 0;
}

void agent_refresh(struct agent *a, uint64_t now)
{
	if (!a || !a->ga || a->fd < 0)
		return;
	if (!a->connected) {
		/* No answer yet: a lost hello (the agent started after it and threw it away) is said again. */
		if (now - a->hello_at >= AGENT_REFRESH_USEC)
			agent_hello(a, now);
		return;
	}
	if (!a->net_id && now - a->net_at >= AGENT_REFRESH_USEC) {
		ask(a, "guest-network-get-interfaces", &a->net_id);
		a->net_at = now;
	}
	if (!a->have_os && !a->os_id)
		ask(a, "guest-get-osinfo", &a->os_id);
	(void)flush(a);
}

static json_object *string_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

json_object *agent_status_json(const struct agent *a, bool channel)
{
	json_object *o = json_object_new_object(), *os = NULL, *addrs = NULL;
	enum agent_state st = a ? agent_get_state(a) : channel ? AGENT_WAITING : AGENT_ABSENT;

	json_object_object_add(o, "state", json_object_new_string(agent_state_to_string(st)));
	json_object_object_add(o, "version", string_or_null(a && a->connected ? a->version : NULL));
	if (a && a->connected && a->have_os) {
		os = json_object_new_object();
		json_object_object_add(os, "name", string_or_null(a->os.name));
		json_object_object_add(os, "pretty_name", string_or_null(a->os.pretty_name));
		json_object_object_add(os, "version", string_or_null(a->os.version));
		json_object_object_add(os, "kernel_release", string_or_null(a->os.kernel_release));
		json_object_object_add(os, "machine", string_or_null(a->os.machine));
	}
	json_object_object_add(o, "os", os);
	if (a && a->connected && a->n_addr >= 0) {
		addrs = json_object_new_array();
		for (int i = 0; i < a->n_addr; i++) {
			json_object *x = json_object_new_object();

			json_object_object_add(x, "interface", json_object_new_string(a->addr[i].ifname));
			json_object_object_add(x, "family", json_object_new_string(a->addr[i].ipv6 ? "ipv6" : "ipv4"));
			json_object_object_add(x, "address", json_object_new_string(a->addr[i].address));
			json_object_object_add(x, "prefix", json_object_new_int((int)a->addr[i].prefix));
			json_object_array_add(addrs, x);
		}
	}
	json_object_object_add(o, "addresses", addrs);
	return o;
}
