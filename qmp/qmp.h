/* SPDX-License-Identifier: MIT */
/*
 * QEMU Machine Protocol messages and their framing. QEMU writes one JSON object per line, ending in "\r\n"; the reader
 * is fed bytes as they arrive from a socket it never sees, and hands out complete, classified messages. Nothing here
 * does I/O, so the parser is tested by feeding it recorded transcripts.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct json_object;

#define QMP_LINE_MAX_DEFAULT (1024 * 1024)

enum qmp_msg_type {
	QMP_MSG_GREETING, /* {"QMP": {...}} */
	QMP_MSG_RETURN,	  /* {"return": ..., "id": ...} */
	QMP_MSG_ERROR,	  /* {"error": {"class": ..., "desc": ...}, "id": ...} */
	QMP_MSG_EVENT,	  /* {"event": ..., "data": ..., "timestamp": {...}} */
	QMP_MSG_COMMAND,  /* {"execute": ..., "arguments": ..., "id": ...}, as a server receives it */
	QMP_MSG_TYPE_MAX,
};

struct qmp_msg {
	enum qmp_msg_type type;
	/* Owns the whole message; every other pointer below points into it. */
	struct json_object *root;
	/*
	 * GREETING: the "QMP" object; RETURN: the "return" value; ERROR: the "error" object; EVENT: "data" (NULL if
	 * absent); COMMAND: "arguments" (NULL if absent).
	 */
	struct json_object *data;
	/* The "id" member, of whatever JSON type the sender chose, or NULL. */
	struct json_object *id;
	/* EVENT: the event name; COMMAND: the "execute" (or "exec-oob") name; otherwise NULL. */
	const char *name;
	/* ERROR only: error.class and error.desc; otherwise NULL. */
	const char *error_class;
	const char *error_desc;
	/* EVENT: the timestamp QEMU took from the host's wall clock, 0 if absent. */
	int64_t ts_sec, ts_usec;
};

/* Frees a message and drops its reference on the JSON tree. Accepts NULL. */
void qmp_msg_free(struct qmp_msg *m);

static inline void qmp_msg_freep(struct qmp_msg **m)
{
	qmp_msg_free(*m);
}

#define _cleanup_qmp_msg_ __attribute__((cleanup(qmp_msg_freep)))

/*
 * Works out which of the five kinds of message root is and fills in a new qmp_msg. On success the message takes its
 * own reference on root. -EBADMSG if root is none of them: not an object, no or more than one of "return", "error",
 * "event", "QMP", "execute"/"exec-oob", an error without "class" and "desc" strings, a name that is not a string,
 * "arguments" that is not an object. -ENOMEM.
 */
int qmp_msg_classify(struct json_object *root, struct qmp_msg **ret);

/* "greeting", "return", "error", "event", "command"; NULL for a value out of range. */
const char *qmp_msg_type_to_string(enum qmp_msg_type t);

struct qmp_reader;

/*
 * Creates a reader that accepts lines of at most line_max bytes, not counting the "\n" (0 means
 * QMP_LINE_MAX_DEFAULT). -EINVAL if line_max is above INT_MAX - 1, the most json-c parses at once; -ENOMEM.
 */
int qmp_reader_new(size_t line_max, struct qmp_reader **ret);

/* Frees a reader and any bytes it still holds. Accepts NULL. */
void qmp_reader_free(struct qmp_reader *r);

/*
 * Appends a copy of len bytes to the reader. An oversized line is dropped here, as it arrives, so memory stays bounded
 * by about line_max plus the complete lines not yet taken out, however many bytes without a newline are fed. -ENOMEM
 * only; a part of buf may have been taken by then, so the stream is best abandoned.
 */
int qmp_reader_feed(struct qmp_reader *r, const void *buf, size_t len);

/*
 * Takes the next message out. Returns 1 with *ret set to a complete message; 0 if more bytes are needed; -EMSGSIZE
 * once for each line longer than line_max (the line is discarded up to and including its newline); -EBADMSG for a
 * line that is not valid JSON or not a QMP message (the line is consumed and the next call continues with the next
 * one); -ENOMEM. Empty lines are skipped; "\n" and "\r\n" both end a line. The reader stays usable after any error.
 */
int qmp_reader_next(struct qmp_reader *r, struct qmp_msg **ret);

/*
 * Why the last negative return from qmp_reader_next() happened, e.g. "invalid JSON at byte 12: unexpected character".
 * The string is owned by the reader and valid until the next call; "" if there was no error.
 */
const char *qmp_reader_error(const struct qmp_reader *r);

/* The number of bytes the reader holds, for tests of the memory bound. */
/* After -EBADMSG for a JSON object that is not QMP: its "id" member (borrowed, valid until the next call), or NULL. */
struct json_object *qmp_reader_error_id(const struct qmp_reader *r);
size_t qmp_reader_buffered(const struct qmp_reader *r);
