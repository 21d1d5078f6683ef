/* SPDX-License-Identifier: MIT */
/*
 * The client side of QMP. Every command carries an integer id and replies are matched by it, never by order: QEMU
 * answers in order today, but events interleave, out-of-band commands overtake, and a command whose requester went away
 * must not have its reply handed to the next one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "qmp/qmp_client.h"
#include "qmp/qmp_encode.h"
#include "util/json.h"
#include "util/macro.h"

struct qmp_pending {
	uint64_t id;
	void *cookie;
};

struct qmp_client {
	struct qmp_reader *reader;
	/* Output not yet written: out[out_start, out_len). */
	char *out;
	size_t out_start;
	size_t out_len;
	size_t out_cap;
	/* Commands in the order they were sent; there are few, so a linear search is fine. */
	struct qmp_pending *pending;
	size_t n_pending;
	size_t cap_pending;
	uint64_t next_id;
	uint64_t dropped;
	/* Either a static string or the reader's error buffer. */
	const char *error;
};

int qmp_client_new(struct qmp_client **ret)
{
	_cleanup_free_ struct qmp_client *c = NULL;
	int k;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	k = qmp_reader_new(0, &c->reader);
	if (k < 0)
		return k;
	c->next_id = 1;
	c->error = "";
	*ret = steal_pointer(&c);
	return 0;
}

void qmp_client_free(struct qmp_client *c)
{
	if (!c)
		return;
	qmp_reader_free(c->reader);
	free(c->out);
	free(c->pending);
	free(c);
}

static int output_append(struct qmp_client *c, const char *p, size_t n)
{
	if (n > c->out_cap - c->out_len && c->out_start > 0) {
		memmove(c->out, c->out + c->out_start, c->out_len - c->out_start);
		c->out_len -= c->out_start;
		c->out_start = 0;
	}
	if (n > c->out_cap - c->out_len) {
		size_t cap = c->out_cap < 1024 ? 1024 : c->out_cap;

		if (n > SIZE_MAX / 2 - c->out_len)
			return -ENOMEM;
		while (cap < c->out_len + n)
			cap *= 2;
		char *b = realloc(c->out, cap);
		if (!b)
			return -ENOMEM;
		c->out = b;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

static int pending_add(struct qmp_client *c, uint64_t id, void *cookie)
{
	if (c->n_pending == c->cap_pending) {
		size_t cap = c->cap_pending ? c->cap_pending * 2 : 8;
		struct qmp_pending *p = reallocarray(c->pending, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->pending = p;
		c->cap_pending = cap;
	}
	c->pending[c->n_pending++] = (struct qmp_pending){ .id = id, .cookie = cookie };
	return 0;
}

static ssize_t pending_find(const struct qmp_client *c, uint64_t id)
{
	for (size_t i = 0; i < c->n_pending; i++)
		if (c->pending[i].id == id)
			return (ssize_t)i;
	return -1;
}

static void pending_remove(struct qmp_client *c, size_t i)
{
	memmove(c->pending + i, c->pending + i + 1, (c->n_pending - i - 1) * sizeof(*c->pending));
	c->n_pending--;
}

int qmp_client_send(struct qmp_client *c, const char *command, struct json_object *args, void *cookie, uint64_t *ret_id)
{
	_cleanup_json_ struct json_object *id = NULL;
	_cleanup_free_ char *line = NULL;
	uint64_t n = c->next_id;
	int k;

	/* Ids stay within int64 so that every JSON implementation, QEMU's included, reads them back exactly. */
	if (n > INT64_MAX)
		return -EOVERFLOW;
	id = json_object_new_int64((int64_t)n);
	if (!id)
		return -ENOMEM;
	k = qmp_encode_command(command, args, id, &line);
	if (k < 0)
		return k;
	/* Reserve the pending slot first: once the bytes are queued, the command must be findable. */
	k = pending_add(c, n, cookie);
	if (k < 0)
		return k;
	k = output_append(c, line, strlen(line));
	if (k < 0) {
		c->n_pending--;
		return k;
	}
	c->next_id++;
	if (ret_id)
		*ret_id = n;
	return 0;
}

void qmp_client_output(const struct qmp_client *c, const char **ret_buf, size_t *ret_len)
{
	*ret_buf = c->out ? c->out + c->out_start : "";
	*ret_len = c->out_len - c->out_start;
}

void qmp_client_output_consume(struct qmp_client *c, size_t n)
{
	size_t have = c->out_len - c->out_start;

	c->out_start += n < have ? n : have;
	if (c->out_start == c->out_len)
		c->out_start = c->out_len = 0;
}

int qmp_client_feed(struct qmp_client *c, const void *buf, size_t len)
{
	return qmp_reader_feed(c->reader, buf, len);
}

/* The pending command a reply answers, or -1 if its id is absent, not an integer, or not ours. */
static ssize_t reply_match(const struct qmp_client *c, const struct qmp_msg *m)
{
	int64_t id;

	if (!json_object_is_type(m->id, json_type_int))
		return -1;
	/* Values beyond int64 read as INT64_MAX, which is never handed out. */
	id = json_object_get_int64(m->id);
	if (id <= 0)
		return -1;
	return pending_find(c, (uint64_t)id);
}

int qmp_client_next(struct qmp_client *c, struct qmp_msg **ret, void **ret_cookie)
{
	int k;

	c->error = "";
	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
		void *cookie = NULL;
		ssize_t i;

		k = qmp_reader_next(c->reader, &m);
		if (k < 0) {
			c->error = qmp_reader_error(c->reader);
			return k;
		}
		if (k == 0)
			return 0;

		switch (m->type) {
		case QMP_MSG_RETURN:
		case QMP_MSG_ERROR:
			i = reply_match(c, m);
			if (i < 0) {
				/* QEMU sends errors without an id for input it could not parse; those land here too. */
				c->dropped++;
				continue;
			}
			cookie = c->pending[i].cookie;
			pending_remove(c, (size_t)i);
			break;
		case QMP_MSG_COMMAND:
			c->error = "not a QMP message for a client: a command";
			return -EBADMSG;
		default:
			break;
		}
		if (ret_cookie)
			*ret_cookie = cookie;
		*ret = steal_pointer(&m);
		return 1;
	}
}

size_t qmp_client_pending(const struct qmp_client *c)
{
	return c->n_pending;
}

uint64_t qmp_client_dropped(const struct qmp_client *c)
{
	return c->dropped;
}

bool qmp_client_cancel(struct qmp_client *c, uint64_t id)
{
	ssize_t i = pending_find(c, id);

	if (i < 0)
		return false;
	pending_remove(c, (size_t)i);
	return true;
}

const char *qmp_client_error(const struct qmp_client *c)
{
	return c->error;
}
