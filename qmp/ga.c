/* SPDX-License-Identifier: MIT */
/*
 * The guest agent's framing. What the guest sends is the guest's to choose, so every byte is distrusted: lines are
 * bounded, JSON must be valid UTF-8 and shallow, ids must be integers of our own, strings must be whole (no NUL) and
 * addresses must parse as addresses before any of it is shown to anyone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp/ga.h"
#include "qmp/qmp.h"
#include "qmp/qmp_encode.h"
#include "util/macro.h"
#include "util/utf8.h"

/* Deep enough for any reply the agent gives; a deeper one is not a reply. */
#define GA_JSON_DEPTH 16
/* The longest string shown from a reply (an OS's pretty name): longer ones are cut. */
#define GA_STRING_MAX 256

enum ga_state {
	GA_DELIMITER,  /* discarding everything up to the next 0xFF */
	GA_SYNC_REPLY, /* after a 0xFF: the next line must be the reply to our sync */
	GA_SYNCED,
};

struct ga {
	enum ga_state state;
	uint64_t sync_id;
	uint64_t next_id;
	bool skipping; /* dropping an oversized line up to its end */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_start, out_len, out_cap;
	struct json_tokener *tok;
	char error[128];
};

void ga_reply_done(struct ga_reply *r)
{
	qmp_msg_free(r->msg);
	*r = (struct ga_reply){};
}

int ga_new(struct ga **ret)
{
	struct ga *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->tok = json_tokener_new_ex(GA_JSON_DEPTH);
	if (!g->tok) {
		free(g);
		return -ENOMEM;
	}
	json_tokener_set_flags(g->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	g->next_id = 1;
	*ret = g;
	return 0;
}

void ga_free(struct ga *g)
{
	if (!g)
		return;
	json_tokener_free(g->tok);
	free(g->in);
	free(g->out);
	free(g);
}

static int out_append(struct ga *g, const char *s, size_t n)
{
	if (g->out_start > 0 && g->out_start == g->out_len)
		g->out_start = g->out_len = 0;
	if (g->out_len + n > g->out_cap) {
		size_t cap = g->out_cap ? g->out_cap : 256;
		char *p;

		while (cap < g->out_len + n)
			cap *= 2;
		if (!(p = realloc(g->out, cap)))
			return -ENOMEM;
		g->out = p;
		g->out_cap = cap;
	}
	memcpy(g->out + g->out_len, s, n);
	g->out_len += n;
	return 0;
}

int ga_sync(struct ga *g, uint64_t sync_id)
{
	char buf[128];
	int n;

	/* Whatever was not written is of the conversation being given up. A command written in part is cut there: the
	 * 0xFF that follows resets the agent's parser, which drops the part. */
	g->out_len = g->out_start;
	g->in_len = 0;
	g->skipping = false;
	g->state = GA_DELIMITER;
	g->sync_id = sync_id;
	n = snprintf(buf, sizeof(buf),
		     "\xff{\"execute\": \"guest-sync-delimited\", \"arguments\": {\"id\": %" PRIu64 "}}\n", sync_id);
	return out_append(g, buf, (size_t)n);
}

bool ga_synced(const struct ga *g)
{
	return g->state == GA_SYNCED;
}

int ga_send(struct ga *g, const char *command, struct json_object *args, uint64_t *ret_id)
{
	_cleanup_free_ char *s = NULL;
	json_object *id = json_object_new_int64((int64_t)g->next_id);
	int r;

	if (!id)
		return -ENOMEM;
	r = qmp_encode_command(command, args, id, &s);
	json_object_put(id);
	if (r < 0)
		return r;
	/* qmp_encode_command() ends the line with "\r\n"; the agent takes either. */
	if ((r = out_append(g, s, strlen(s))) < 0)
		return r;
	if (ret_id)
		*ret_id = g->next_id;
	g->next_id++;
	return 0;
}

void ga_output(const struct ga *g, const char **ret_buf, size_t *ret_len)
{
	*ret_buf = g->out ? g->out + g->out_start : "";
	*ret_len = g->out_len - g->out_start;
}

void ga_output_consume(struct ga *g, size_t n)
{
	g->out_start += n < g->out_len - g->out_start ? n : g->out_len - g->out_start;
}

int ga_feed(struct ga *g, const void *buf, size_t len)
{
	const char *p = buf;

	/* Before the delimiter nothing is kept: a stale reply of any size costs no memory. */
	if (g->state == GA_DELIMITER && g->in_len == 0) {
		const char *d = memchr(p, 0xff, len);

		if (!d)
			return 0;
		len -= (size_t)(d - p);
		p = d;
	}
	if (g->in_len + len > g->in_cap) {
		size_t cap = g->in_cap ? g->in_cap : 4096;
		char *q;

		while (cap < g->in_len + len)
			cap *= 2;
		if (!(q = realloc(g->in, cap)))
			return -ENOMEM;
		g->in = q;
		g->in_cap = cap;
	}
	memcpy(g->in + g->in_len, p, len);
	g->in_len += len;
	return 0;
}

static void consume(struct ga *g, size_t n)
{
	memmove(g->in, g->in + n, g->in_len - n);
	g->in_len -= n;
}

static int fail(struct ga *g, const char *fmt, ...) _printf_(2, 3);
static int fail(struct ga *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->error, sizeof(g->error), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

const char *ga_error(const struct ga *g)
{
	return g->error;
}

/* One line as a reply, or -EBADMSG. */
static int parse_line(struct ga *g, const char *line, size_t n, struct qmp_msg **ret)
{
	struct qmp_msg *m;
	json_object *o;
	size_t end;
	int r;

	json_tokener_reset(g->tok);
	o = json_tokener_parse_ex(g->tok, line, (int)n);
	if (!o) {
		enum json_tokener_error e = json_tokener_get_error(g->tok);

		return fail(g, "invalid JSON: %s",
			    e == json_tokener_continue ? "unexpected end of line" : json_tokener_error_desc(e));
	}
	for (end = json_tokener_get_parse_end(g->tok); end < n; end++)
		if (!strchr(" \t\r\n", line[end])) {
			json_object_put(o);
			return fail(g, "more after the JSON value");
		}
	r = qmp_msg_classify(o, &m);
	json_object_put(o);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || (m->type != QMP_MSG_RETURN && m->type != QMP_MSG_ERROR)) {
		if (r >= 0)
			qmp_msg_free(m);
		return fail(g, "not a reply");
	}
	*ret = m;
	return 0;
}

/* An id of ours: an integer, read with its type checked first. */
static bool id_of(json_object *v, uint64_t *ret)
{
	int64_t i;

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	i = json_object_get_int64(v);
	if (i <= 0 || errno != 0 || i == INT64_MAX)
		return false;
	*ret = (uint64_t)i;
	return true;
}

int ga_next(struct ga *g, struct ga_reply *ret)
{
	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		char *nl;
		size_t n;
		uint64_t id;
		int r;

		if (g->state == GA_DELIMITER) {
			char *d = g->in_len ? memchr(g->in, 0xff, g->in_len) : NULL;

			if (!d) {
				g->in_len = 0;
				return 0;
			}
			consume(g, (size_t)(d - g->in) + 1);
			g->state = GA_SYNC_REPLY;
			g->skipping = false;
		}
		nl = g->in_len ? memchr(g->in, '\n', g->in_len) : NULL;
		if (!nl) {
			/* A line longer than the bound is dropped as it comes, and up to its end, reported once. */
			if (g->skipping)
				g->in_len = 0;
			else if (g->in_len > GA_LINE_MAX) {
				g->in_len = 0;
				g->skipping = true;
				if (g->state == GA_SYNC_REPLY)
					g->state = GA_DELIMITER;
				return fail(g, "a reply longer than %d bytes", GA_LINE_MAX);
			}
			return 0;
		}
		n = (size_t)(nl - g->in) + 1;
		if (g->skipping) {
			consume(g, n);
			g->skipping = false;
			continue;
		}
		if (n > GA_LINE_MAX) {
			consume(g, n);
			return fail(g, "a reply longer than %d bytes", GA_LINE_MAX);
		}
		/* A 0xFF in a line starts a new sync reply: the agent was reset in the middle of one. */
		if (g->state == GA_SYNC_REPLY && memchr(g->in, 0xff, n)) {
			g->state = GA_DELIMITER;
			continue;
		}
		r = parse_line(g, g->in, n, &m);
		consume(g, n);
		if (r == -ENOMEM)
			return r;
		if (g->state == GA_SYNC_REPLY) {
			/* Only our own sync's reply counts; anything else is stale, and the wait is for the next 0xFF.
			 */
			if (r >= 0 && m->type == QMP_MSG_RETURN && id_of(m->data, &id) && id == g->sync_id) {
				g->state = GA_SYNCED;
				*ret = (struct ga_reply){ .type = GA_REPLY_SYNCED };
				return 1;
			}
			g->state = GA_DELIMITER;
			continue;
		}
		if (r < 0)
			return r;
		if (!id_of(m->id, &id) || id >= g->next_id)
			return fail(g, "a reply to no command of ours");
		*ret = (struct ga_reply){
			.type = m->type == QMP_MSG_RETURN ? GA_REPLY_RETURN : GA_REPLY_ERROR,
			.id = id,
			.data = m->type == QMP_MSG_RETURN ? m->data : NULL,
			.error_class = m->error_class,
			.error_desc = m->error_desc,
			.msg = steal_pointer(&m),
		};
		return 1;
	}
}

/* A string member, whole and valid UTF-8, cut to GA_STRING_MAX; NULL otherwise. */
static int string_member(json_object *o, const char *key, char **ret)
{
	json_object *v;
	const char *s;
	size_t n;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return 0;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n || !utf8_valid(s, n, NULL))
		return 0;
	if (n > GA_STRING_MAX) {
		/* Cut at a character's start, so that it stays UTF-8. */
		n = GA_STRING_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	*ret = strndup(s, n);
	return *ret ? 0 : -ENOMEM;
}

int ga_osinfo_parse(json_object *v, struct ga_osinfo *ret)
{
	struct ga_osinfo o = {};
	int r;

	if (!v || !json_object_is_type(v, json_type_object))
		return -EBADMSG;
	if ((r = string_member(v, "name", &o.name)) < 0 || (r = string_member(v, "pretty-name", &o.pretty_name)) < 0 ||
	    (r = string_member(v, "version", &o.version)) < 0 ||
	    (r = string_member(v, "kernel-release", &o.kernel_release)) < 0 ||
	    (r = string_member(v, "machine", &o.machine)) < 0) {
		ga_osinfo_done(&o);
		return r;
	}
	*ret = o;
	return 0;
}

void ga_osinfo_done(struct ga_osinfo *o)
{
	free(o->name);
	free(o->pretty_name);
	free(o->version);
	free(o->kernel_release);
	free(o->machine);
	*o = (struct ga_osinfo){};
}

/* One entry of an interface's "ip-addresses", checked; false to skip it. */
static bool address_of(json_object *a, const char *ifname, struct ga_address *ret)
{
	json_object *t, *addr, *prefix;
	const char *type, *s;
	unsigned char bin[16];
	int64_t p;
	bool v6;

	if (!json_object_is_type(a, json_type_object) || !json_object_object_get_ex(a, "ip-address-type", &t) ||
	    !json_object_is_type(t, json_type_string) || !json_object_object_get_ex(a, "ip-address", &addr) ||
	    !json_object_is_type(addr, json_type_string))
		return false;
	type = json_object_get_string(t);
	if (strcmp(type, "ipv4") == 0)
		v6 = false;
	else if (strcmp(type, "ipv6") == 0)
		v6 = true;
	else
		return false;
	s = json_object_get_string(addr);
	if (strlen(s) != (size_t)json_object_get_string_len(addr) || strlen(s) >= GA_ADDRESS_MAX ||
	    inet_pton(v6 ? AF_INET6 : AF_INET, s, bin) != 1)
		return false;
	/* Loopback is of no use to anyone outside the guest. */
	if ((!v6 && bin[0] == 127) || (v6 && memcmp(bin, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0))
		return false;
	*ret = (struct ga_address){ .ipv6 = v6 };
	if (json_object_object_get_ex(a, "prefix", &prefix) && json_object_is_type(prefix, json_type_int)) {
		p = json_object_get_int64(prefix);
		if (p >= 0 && p <= (v6 ? 128 : 32))
			ret->prefix = (unsigned)p;
	}
	snprintf(ret->ifname, sizeof(ret->ifname), "%s", ifname);
	snprintf(ret->address, sizeof(ret->address), "%s", s);
	return true;
}

int ga_addresses_parse(json_object *v, struct ga_address *ret, size_t max)
{
	size_t n = 0, len;

	if (!v || !json_object_is_type(v, json_type_array))
		return -EBADMSG;
	len = json_object_array_length(v);
	for (size_t i = 0; i < len && n < max; i++) {
		json_object *iface = json_object_array_get_idx(v, i), *name, *addrs;
		const char *ifname;
		size_t k;

		if (!json_object_is_type(iface, json_type_object) || !json_object_object_get_ex(iface, "name", &name) ||
		    !json_object_is_type(name, json_type_string) ||
		    !json_object_object_get_ex(iface, "ip-addresses", &addrs) ||
		    !json_object_is_type(addrs, json_type_array))
			continue;
		ifname = json_object_get_string(name);
		/* A nameless interface is none the status could name (the long fuzzing run found one). */
		if (!*ifname || strlen(ifname) != (size_t)json_object_get_string_len(name) ||
		    strlen(ifname) >= GA_IFNAME_MAX || !utf8_valid(ifname, strlen(ifname), NULL) ||
		    strcmp(ifname, "lo") == 0)
			continue;
		k = json_object_array_length(addrs);
		for (size_t j = 0; j < k && n < max; j++)
			if (address_of(json_object_array_get_idx(addrs, j), ifname, &ret[n]))
				n++;
	}
	return (int)n;
}
