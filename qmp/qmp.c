/* SPDX-License-Identifier: MIT */
/*
 * QMP messages and line framing. The reader keeps one buffer: complete lines waiting to be taken out, followed by the
 * start of the line that is still arriving. Lines that grow past line_max are dropped while they are fed, and a mark
 * left at their place makes qmp_reader_next() report them in stream order; so memory stays bounded even if the peer
 * never sends a newline, and the stream resynchronises at the next one.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/utf8.h"

/* json-c's default nesting limit of 32 is too tight for replies such as query-block on a long backing chain. */
#define QMP_JSON_DEPTH 1024

/* A buffer that grew for one big message is given back once it empties, so a reader idles small. */
#define QMP_READER_KEEP (64 * 1024)

struct qmp_reader {
	char *buf;
	size_t cap;
	/* buf[start, tail) holds complete lines, buf[tail, len) the line still arriving (no newline, <= line_max). */
	size_t start;
	size_t tail;
	size_t len;
	size_t line_max;
	/* Dropping the rest of an oversized line, up to and including its newline. */
	bool discarding;
	/* Offsets in buf, ascending, where oversized lines were dropped and are still to be reported. */
	size_t *marks;
	size_t n_marks;
	size_t cap_marks;
	struct json_tokener *tok;
	char error[160];
	/* The "id" of the last object rejected as not QMP, so that a server can still answer it. */
	struct json_object *error_id;
};

const char *qmp_msg_type_to_string(enum qmp_msg_type t)
{
	switch (t) {
	case QMP_MSG_GREETING:
		return "greeting";
	case QMP_MSG_RETURN:
		return "return";
	case QMP_MSG_ERROR:
		return "error";
	case QMP_MSG_EVENT:
		return "event";
	case QMP_MSG_COMMAND:
		return "command";
	default:
		return NULL;
	}
}

void qmp_msg_free(struct qmp_msg *m)
{
	if (!m)
		return;
	json_object_put(m->root);
	free(m);
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	/* json-c stores a JSON null as a NULL value; QMP gives null no meaning, so it counts as absent. */
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *member_string(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/*
 * An event's or command's name, or NULL with *ret_why set. Names are compared with strcmp(), so one with a NUL in it
 * ("status\u0000x") would pass for its first part: it is refused.
 */
static const char *name_of(struct json_object *v, bool event, const char **ret_why)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string)) {
		*ret_why = event ? "event name is not a string" : "execute name is not a string";
		return NULL;
	}
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		*ret_why = event ? "event name contains a NUL character" : "execute name contains a NUL character";
		return NULL;
	}
	return s;
}

static int64_t member_int(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

/* The classification proper; on failure *ret_why says what was wrong, as a static string. */
static int classify(struct json_object *root, struct qmp_msg **ret, const char **ret_why)
{
	/* The order matches enum qmp_msg_type; "exec-oob" is a second spelling of "execute". */
	static const char *const kinds[] = { "QMP", "return", "error", "event", "execute", "exec-oob" };
	struct json_object *v, *found = NULL;
	size_t kind = 0;
	unsigned n = 0;

	if (!json_object_is_type(root, json_type_object)) {
		*ret_why = "not a JSON object";
		return -EBADMSG;
	}
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (json_object_object_get_ex(root, kinds[i], &v)) {
			kind = i;
			found = v;
			n++;
		}
	if (n == 0) {
		*ret_why = "no return, error, event, QMP or execute member";
		return -EBADMSG;
	}
	if (n > 1) {
		*ret_why = "more than one of return, error, event, QMP and execute";
		return -EBADMSG;
	}

	struct qmp_msg m = {
		.type = kind < QMP_MSG_COMMAND ? (enum qmp_msg_type)kind : QMP_MSG_COMMAND,
		.id = member(root, "id"),
	};

	if (m.type == QMP_MSG_RETURN) {
		m.data = found;
	} else if (m.type == QMP_MSG_ERROR) {
		m.data = found;
		m.error_class = member_string(found, "class");
		m.error_desc = member_string(found, "desc");
		if (!m.error_class || !m.error_desc) {
			*ret_why = "error without class and desc strings";
			return -EBADMSG;
		}
	} else if (m.type == QMP_MSG_EVENT) {
		m.name = name_of(found, true, ret_why);
		if (!m.name)
			return -EBADMSG;
		m.data = member(root, "data");
		v = member(root, "timestamp");
		m.ts_sec = member_int(v, "seconds");
		m.ts_usec = member_int(v, "microseconds");
	} else if (m.type == QMP_MSG_GREETING) {
		m.data = found;
		if (!json_object_is_type(found, json_type_object)) {
			*ret_why = "QMP member is not an object";
			return -EBADMSG;
		}
	} else {
		m.name = name_of(found, false, ret_why);
		if (!m.name)
			return -EBADMSG;
		/* QEMU refuses arguments that are not an object; so does the server side here. */
		m.data = member(root, "arguments");
		if (m.data && !json_object_is_type(m.data, json_type_object)) {
			*ret_why = "arguments is not an object";
			return -EBADMSG;
		}
	}

	struct qmp_msg *p = malloc(sizeof(*p));
	if (!p) {
		*ret_why = "out of memory";
		return -ENOMEM;
	}
	*p = m;
	p->root = json_object_get(root);
	*ret = p;
	return 0;
}

int qmp_msg_classify(struct json_object *root, struct qmp_msg **ret)
{
	const char *why;

	return classify(root, ret, &why);
}

int qmp_reader_new(size_t line_max, struct qmp_reader **ret)
{
	_cleanup_free_ struct qmp_reader *r = NULL;

	if (line_max == 0)
		line_max = QMP_LINE_MAX_DEFAULT;
	/* json-c takes lengths as int, and the parser is handed the line plus its terminating NUL. */
	if (line_max > INT_MAX - 1)
		return -EINVAL;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->line_max = line_max;
	r->tok = json_tokener_new_ex(QMP_JSON_DEPTH);
	if (!r->tok)
		return -ENOMEM;
	/* QEMU always sends valid UTF-8 (it escapes everything else); anything else is not from QEMU. */
	json_tokener_set_flags(r->tok, JSON_TOKENER_VALIDATE_UTF8);

	*ret = steal_pointer(&r);
	return 0;
}

void qmp_reader_free(struct qmp_reader *r)
{
	if (!r)
		return;
	json_tokener_free(r->tok);
	json_object_put(r->error_id);
	free(r->marks);
	free(r->buf);
	free(r);
}

_printf_(3, 4) static int reader_fail(struct qmp_reader *r, int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return error;
}

/* Moves the unconsumed bytes to the front of the buffer, so that consumed lines do not hold memory. */
static void reader_compact(struct qmp_reader *r)
{
	if (r->start == 0)
		return;
	memmove(r->buf, r->buf + r->start, r->len - r->start);
	for (size_t i = 0; i < r->n_marks; i++)
		r->marks[i] -= r->start;
	r->tail -= r->start;
	r->len -= r->start;
	r->start = 0;
}

static int reader_append(struct qmp_reader *r, const char *p, size_t n)
{
	if (n > r->cap - r->len) {
		reader_compact(r);
		if (n > SIZE_MAX - r->len)
			return -ENOMEM;
	}
	if (n > r->cap - r->len) {
		size_t want = r->len + n, cap = r->cap < 4096 ? 4096 : r->cap;

		while (cap < want)
			cap = cap > SIZE_MAX / 2 ? want : cap * 2;
		char *b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

static int reader_add_mark(struct qmp_reader *r, size_t at)
{
	if (r->n_marks == r->cap_marks) {
		size_t cap = r->cap_marks ? r->cap_marks * 2 : 4;
		size_t *m = reallocarray(r->marks, cap, sizeof(*m));

		if (!m)
			return -ENOMEM;
		r->marks = m;
		r->cap_marks = cap;
	}
	r->marks[r->n_marks++] = at;
	return 0;
}

int qmp_reader_feed(struct qmp_reader *r, const void *buf, size_t len)
{
	const char *p = buf;
	int k;

	while (len > 0) {
		const char *nl = memchr(p, '\n', len);
		/* The bytes of the current line in p, not counting its newline. */
		size_t n = nl ? (size_t)(nl - p) : len;

		if (r->discarding) {
			if (!nl)
				return 0;
			r->discarding = false;
		} else if (n > r->line_max - (r->len - r->tail)) {
			/* Too long: forget what was kept of it, and remember where to report it. */
			k = reader_add_mark(r, r->tail);
			if (k < 0)
				return k;
			r->len = r->tail;
			if (!nl) {
				r->discarding = true;
				return 0;
			}
		} else {
			size_t take = nl ? n + 1 : len;

			k = reader_append(r, p, take);
			if (k < 0)
				return k;
			if (nl)
				r->tail = r->len;
			p += take;
			len -= take;
			continue;
		}
		p = nl + 1;
		len -= n + 1;
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_space(p[i]))
			return false;
	return true;
}

/* Parses one line, without its newline; line[n] belongs to the buffer and may be overwritten. */
static int reader_parse(struct qmp_reader *r, char *line, size_t n, struct qmp_msg **ret)
{
	_cleanup_json_ struct json_object *o = NULL;
	const char *nul, *why;
	size_t end;
	int k;

	nul = memchr(line, '\0', n);
	if (nul)
		return reader_fail(r, -EBADMSG, "invalid JSON at byte %zu: embedded NUL byte", (size_t)(nul - line));
	/* json-c's UTF-8 check lets overlong forms and surrogates through; QEMU never sends them. */
	if (!utf8_valid(line, n, &end))
		return reader_fail(r, -EBADMSG, "invalid JSON at byte %zu: not UTF-8", end);

	end = json_text_nul_escape(line, n);
	if (end != SIZE_MAX)
		return reader_fail(r, -EBADMSG, "invalid JSON at byte %zu: a \\u0000 (NUL) in a string", end);

	/* Handing json-c the terminating NUL tells it the input is complete, so a bare number at the end parses. */
	line[n] = '\0';
	json_tokener_reset(r->tok);
	o = json_tokener_parse_ex(r->tok, line, (int)n + 1);
	if (!o) {
		enum json_tokener_error e = json_tokener_get_error(r->tok);

		/* A line holding "null" is valid JSON but no object; json-c returns NULL with success for it. */
		if (e == json_tokener_success)
			return reader_fail(r, -EBADMSG, "not a QMP message: not a JSON object");
		return reader_fail(r, -EBADMSG, "invalid JSON at byte %zu: %s", json_tokener_get_parse_end(r->tok),
				   json_tokener_error_desc(e));
	}
	for (end = json_tokener_get_parse_end(r->tok); end < n; end++)
		if (!is_space(line[end]))
			return reader_fail(r, -EBADMSG, "invalid JSON at byte %zu: trailing data after the value", end);

	k = classify(o, ret, &why);
	if (k == -EBADMSG) {
		struct json_object *id;

		if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "id", &id))
			r->error_id = json_object_get(id);
		return reader_fail(r, k, "not a QMP message: %s", why);
	}
	if (k < 0)
		return reader_fail(r, k, "%s", why);
	return 1;
}

int qmp_reader_next(struct qmp_reader *r, struct qmp_msg **ret)
{
	r->error[0] = '\0';
	json_object_put(r->error_id);
	r->error_id = NULL;
	for (;;) {
		if (r->n_marks > 0 && r->marks[0] == r->start) {
			memmove(r->marks, r->marks + 1, --r->n_marks * sizeof(*r->marks));
			return reader_fail(r, -EMSGSIZE, "line longer than %zu bytes", r->line_max);
		}
		if (r->start == r->tail) {
			if (r->start == r->len) {
				r->start = r->tail = r->len = 0;
				if (r->cap > QMP_READER_KEEP) {
					free(r->buf);
					r->buf = NULL;
					r->cap = 0;
				}
			}
			return 0;
		}

		/* [start, tail) consists of whole lines, so this newline exists. */
		char *line = r->buf + r->start;
		char *nl = memchr(line, '\n', r->tail - r->start);
		size_t n = (size_t)(nl - line);

		r->start += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (is_blank(line, n))
			continue;
		return reader_parse(r, line, n, ret);
	}
}

struct json_object *qmp_reader_error_id(const struct qmp_reader *r)
{
	return r->error_id;
}

const char *qmp_reader_error(const struct qmp_reader *r)
{
	return r->error;
}

size_t qmp_reader_buffered(const struct qmp_reader *r)
{
	return r->len - r->start;
}
