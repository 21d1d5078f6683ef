/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for qmp/qmp.c: message classification and the incremental line reader, fed with transcripts recorded
 * from QEMU 7.2 (tests/unit/data/qmp/README), split every way, and with garbage and oversized lines.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "util/json.h"
#include "util/macro.h"
#include "tests/unit/data-file.h"

static struct qmp_reader *reader_new(size_t line_max)
{
	struct qmp_reader *r = NULL;

	assert_int_equal(qmp_reader_new(line_max, &r), 0);
	assert_non_null(r);
	return r;
}

static void feed(struct qmp_reader *r, const void *p, size_t n)
{
	assert_int_equal(qmp_reader_feed(r, p, n), 0);
}

static void feeds(struct qmp_reader *r, const char *s)
{
	feed(r, s, strlen(s));
}

/* Expects one message of the given type and returns it. */
static struct qmp_msg *next_msg(struct qmp_reader *r, enum qmp_msg_type type)
{
	struct qmp_msg *m = NULL;
	int k = qmp_reader_next(r, &m);

	if (k != 1)
		fail_msg("qmp_reader_next() = %d (%s), expected a message", k, qmp_reader_error(r));
	assert_non_null(m);
	assert_string_equal(qmp_msg_type_to_string(m->type), qmp_msg_type_to_string(type));
	return m;
}

static void next_none(struct qmp_reader *r)
{
	struct qmp_msg *m = NULL;

	assert_int_equal(qmp_reader_next(r, &m), 0);
	assert_null(m);
}

static void next_error(struct qmp_reader *r, int error)
{
	struct qmp_msg *m = NULL;
	int k = qmp_reader_next(r, &m);

	if (k != error)
		fail_msg("qmp_reader_next() = %d, expected %d", k, error);
	assert_null(m);
	assert_true(qmp_reader_error(r)[0] != '\0');
}

/*
 * Takes out everything the reader has and appends a description of each result to f: the type and the whole JSON of
 * a message (so two runs compare exactly), or the error code.
 */
static void drain(struct qmp_reader *r, FILE *f)
{
	for (;;) {
		struct qmp_msg *m = NULL;
		int k = qmp_reader_next(r, &m);

		if (k == 0)
			return;
		if (k < 0) {
			fprintf(f, "FAILED %d\n", k);
			continue;
		}
		fprintf(f, "%s %s\n", qmp_msg_type_to_string(m->type),
			json_object_to_json_string_ext(m->root, JSON_C_TO_STRING_PLAIN));
		qmp_msg_free(m);
	}
}

/* A short summary of a stream: "greeting", "return#1", "error#3:CommandNotFound", "event:STOP", ... */
static char *summarize(const char *buf, size_t len)
{
	struct qmp_reader *r = reader_new(0);
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	assert_non_null(f);
	feed(r, buf, len);
	for (;;) {
		struct qmp_msg *m = NULL;
		int k = qmp_reader_next(r, &m);

		if (k == 0)
			break;
		if (k < 0)
			fail_msg("transcript does not parse: %s", qmp_reader_error(r));
		if (ftell(f) > 0)
			fputc(';', f);
		fputs(qmp_msg_type_to_string(m->type), f);
		if (m->id)
			fprintf(f, "#%s", json_object_to_json_string(m->id));
		if (m->name)
			fprintf(f, ":%s", m->name);
		if (m->error_class)
			fprintf(f, ":%s", m->error_class);
		qmp_msg_free(m);
	}
	fclose(f);
	assert_int_equal(qmp_reader_buffered(r), 0);
	qmp_reader_free(r);
	return out;
}

static const struct transcript {
	const char *file;
	const char *summary;
} transcripts[] = {
	{ "greeting.raw", "greeting" },
	{ "capabilities.raw", "return#1" },
	{ "query-status-running.raw", "return#2" },
	{ "command-not-found.raw", "error#3:CommandNotFound" },
	{ "bad-arguments.raw", "error#4:GenericError" },
	{ "stop.raw", "event:STOP;return#5" },
	{ "cont.raw", "event:RESUME;return#6" },
	{ "system-reset.raw", "event:RESET;return#7;event:RESET;event:RESET" },
	{ "system-powerdown.raw", "event:POWERDOWN;return#8" },
	{ "quit.raw", "event:SHUTDOWN;return#9" },
	{ "session-running.raw", "greeting;return#1;return#2;error#3:CommandNotFound;error#4:GenericError;"
				 "event:STOP;return#5;event:RESUME;return#6;event:RESET;return#7;event:RESET;"
				 "event:RESET;event:POWERDOWN;return#8;event:SHUTDOWN;return#9" },
	{ "greeting-prelaunch.raw", "greeting" },
	{ "capabilities-prelaunch.raw", "return#1" },
	{ "query-status-prelaunch.raw", "return#2" },
	{ "quit-prelaunch.raw", "event:SHUTDOWN;return#3" },
	{ "session-prelaunch.raw", "greeting;return#1;return#2;event:SHUTDOWN;return#3" },
	{ "shutdown-guest.raw", "event:SHUTDOWN" },
};

static void test_transcripts_sequence(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(transcripts); i++) {
		size_t len;
		char *buf = read_file(transcripts[i].file, &len);
		char *s = summarize(buf, len);

		/* Every recorded line ends in "\r\n", as QEMU writes it. */
		assert_true(len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n');
		if (strcmp(s, transcripts[i].summary) != 0)
			fail_msg("%s: got %s, expected %s", transcripts[i].file, s, transcripts[i].summary);
		free(s);
		free(buf);
	}
}

/* Feeds buf in two chunks cut at every offset, and byte by byte, and expects the output of one whole feed. */
static void test_transcripts_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(transcripts); i++) {
		size_t len, n_ref, n_got;
		char *buf = read_file(transcripts[i].file, &len);
		char *ref = NULL, *got = NULL;
		struct qmp_reader *r;
		FILE *f;

		f = open_memstream(&ref, &n_ref);
		r = reader_new(0);
		feed(r, buf, len);
		drain(r, f);
		qmp_reader_free(r);
		fclose(f);
		assert_null(strstr(ref, "FAILED"));

		for (size_t cut = 0; cut <= len; cut++) {
			f = open_memstream(&got, &n_got);
			r = reader_new(0);
			feed(r, buf, cut);
			drain(r, f);
			feed(r, buf + cut, len - cut);
			drain(r, f);
			assert_int_equal(qmp_reader_buffered(r), 0);
			qmp_reader_free(r);
			fclose(f);
			if (strcmp(ref, got) != 0)
				fail_msg("%s cut at %zu:\n%s\nexpected:\n%s", transcripts[i].file, cut, got, ref);
			free(got);
		}

		/* Byte by byte, taking messages out as they complete. */
		f = open_memstream(&got, &n_got);
		r = reader_new(0);
		for (size_t j = 0; j < len; j++) {
			feed(r, buf + j, 1);
			drain(r, f);
		}
		qmp_reader_free(r);
		fclose(f);
		assert_string_equal(got, ref);
		free(got);

		/* Byte by byte, taking them out only at the end. */
		f = open_memstream(&got, &n_got);
		r = reader_new(0);
		for (size_t j = 0; j < len; j++)
			feed(r, buf + j, 1);
		drain(r, f);
		qmp_reader_free(r);
		fclose(f);
		assert_string_equal(got, ref);
		free(got);

		free(ref);
		free(buf);
	}
}

/* The same stream with bare "\n" line ends, and with blank lines in between, gives the same messages. */
static void test_transcript_lf_and_blank_lines(void **state)
{
	size_t len, j = 0;
	char *buf = read_file("session-running.raw", &len);
	char *lf = malloc(len * 3 + 1);
	char *ref = summarize(buf, len), *s;

	(void)state;
	assert_non_null(lf);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r')
			continue;
		lf[j++] = buf[i];
		if (buf[i] == '\n') {
			memcpy(lf + j, " \n", 2);
			j += 2;
		}
	}
	s = summarize(lf, j);
	assert_string_equal(s, ref);
	free(s);
	free(ref);
	free(lf);
	free(buf);
}

static struct qmp_msg *first_msg(const char *file, size_t skip)
{
	size_t len;
	char *buf = read_file(file, &len);
	struct qmp_reader *r = reader_new(0);
	struct qmp_msg *m = NULL;

	feed(r, buf, len);
	for (size_t i = 0; i <= skip; i++) {
		qmp_msg_free(m);
		m = NULL;
		assert_int_equal(qmp_reader_next(r, &m), 1);
	}
	qmp_reader_free(r);
	free(buf);
	return m;
}

static struct json_object *path(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, a, &v));
	if (b)
		assert_true(json_object_object_get_ex(v, b, &v));
	return v;
}

static void test_transcript_fields(void **state)
{
	struct qmp_msg *m;

	(void)state;
	m = first_msg("greeting.raw", 0);
	assert_int_equal(m->type, QMP_MSG_GREETING);
	assert_null(m->id);
	assert_null(m->name);
	assert_int_equal(json_object_get_int(path(path(m->data, "version", "qemu"), "major", NULL)), 7);
	assert_int_equal(json_object_get_int(path(path(m->data, "version", "qemu"), "minor", NULL)), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(path(m->data, "capabilities", NULL), 0)),
			    "oob");
	qmp_msg_free(m);

	m = first_msg("capabilities.raw", 0);
	assert_int_equal(m->type, QMP_MSG_RETURN);
	assert_true(json_object_is_type(m->data, json_type_object));
	assert_int_equal(json_object_object_length(m->data), 0);
	assert_int_equal(json_object_get_int(m->id), 1);
	qmp_msg_free(m);

	m = first_msg("query-status-running.raw", 0);
	assert_string_equal(json_object_get_string(path(m->data, "status", NULL)), "running");
	assert_true(json_object_get_boolean(path(m->data, "running", NULL)));
	qmp_msg_free(m);

	m = first_msg("query-status-prelaunch.raw", 0);
	assert_string_equal(json_object_get_string(path(m->data, "status", NULL)), "prelaunch");
	assert_false(json_object_get_boolean(path(m->data, "running", NULL)));
	qmp_msg_free(m);

	m = first_msg("command-not-found.raw", 0);
	assert_int_equal(m->type, QMP_MSG_ERROR);
	assert_string_equal(m->error_class, "CommandNotFound");
	assert_string_equal(m->error_desc, "The command no-such-command has not been found");
	assert_int_equal(json_object_get_int(m->id), 3);
	assert_ptr_equal(m->data, path(m->root, "error", NULL));
	qmp_msg_free(m);

	m = first_msg("bad-arguments.raw", 0);
	assert_string_equal(m->error_class, "GenericError");
	assert_string_equal(m->error_desc, "Parameter 'bogus' is unexpected");
	qmp_msg_free(m);

	m = first_msg("stop.raw", 0);
	assert_int_equal(m->type, QMP_MSG_EVENT);
	assert_string_equal(m->name, "STOP");
	assert_null(m->data);
	assert_null(m->id);
	assert_true(m->ts_sec > 1600000000);
	assert_true(m->ts_usec >= 0 && m->ts_usec < 1000000);
	qmp_msg_free(m);

	m = first_msg("system-reset.raw", 0);
	assert_string_equal(m->name, "RESET");
	assert_false(json_object_get_boolean(path(m->data, "guest", NULL)));
	assert_string_equal(json_object_get_string(path(m->data, "reason", NULL)), "host-qmp-system-reset");
	qmp_msg_free(m);

	/* quit: SHUTDOWN comes before the reply. */
	m = first_msg("quit.raw", 0);
	assert_string_equal(m->name, "SHUTDOWN");
	assert_false(json_object_get_boolean(path(m->data, "guest", NULL)));
	assert_string_equal(json_object_get_string(path(m->data, "reason", NULL)), "host-qmp-quit");
	qmp_msg_free(m);
	m = first_msg("quit.raw", 1);
	assert_int_equal(m->type, QMP_MSG_RETURN);
	assert_int_equal(json_object_get_int(m->id), 9);
	qmp_msg_free(m);

	m = first_msg("shutdown-guest.raw", 0);
	assert_string_equal(m->name, "SHUTDOWN");
	assert_true(json_object_get_boolean(path(m->data, "guest", NULL)));
	assert_string_equal(json_object_get_string(path(m->data, "reason", NULL)), "guest-shutdown");
	assert_int_equal(m->ts_sec, 1795290730);
	assert_int_equal(m->ts_usec, 481516);
	qmp_msg_free(m);
}

static void test_several_and_partial(void **state)
{
	struct qmp_reader *r = reader_new(0);

	(void)state;
	feeds(r, "{\"return\": {}, \"id\": 1}\r\n{\"event\": \"STOP\"}\r\n{\"QMP\": {}}\r\n{\"return\": ");
	qmp_msg_free(next_msg(r, QMP_MSG_RETURN));
	qmp_msg_free(next_msg(r, QMP_MSG_EVENT));
	qmp_msg_free(next_msg(r, QMP_MSG_GREETING));
	next_none(r);
	assert_int_equal(qmp_reader_buffered(r), strlen("{\"return\": "));
	feeds(r, "[1, 2]");
	next_none(r);
	feeds(r, "}\r");
	next_none(r);
	feeds(r, "\n\r\n\n   \r\n\t\n");
	struct qmp_msg *m = next_msg(r, QMP_MSG_RETURN);
	assert_int_equal(json_object_array_length(m->data), 2);
	assert_null(m->id);
	qmp_msg_free(m);
	next_none(r);
	assert_int_equal(qmp_reader_buffered(r), 0);
	/* Empty feeds are fine. */
	feed(r, "", 0);
	next_none(r);
	qmp_reader_free(r);
}

static void test_garbage(void **state)
{
	static const struct {
		const char *line;
		size_t len;	   /* 0: strlen */
		const char *error; /* a prefix of qmp_reader_error(), or NULL if accepting is fine too */
	} cases[] = {
		{ "not json", 0, "invalid JSON at byte " },
		{ "{", 0, "invalid JSON at byte 1: unexpected end of data" },
		{ "}", 0, "invalid JSON at byte 0: " },
		{ "{\"return\": {}, \"id\": 1", 0, "invalid JSON at byte " },
		{ "[1, 2]", 0, "not a QMP message: not a JSON object" },
		{ "42", 0, "not a QMP message: not a JSON object" },
		{ "-1.5e3", 0, "not a QMP message: not a JSON object" },
		{ "\"return\"", 0, "not a QMP message: not a JSON object" },
		{ "null", 0, "not a QMP message: not a JSON object" },
		{ "true", 0, "not a QMP message: not a JSON object" },
		{ "{}", 0, "not a QMP message: no return, error, event, QMP or execute member" },
		{ "{\"foo\": 1, \"id\": 2}", 0, "not a QMP message: no return, error, event, QMP or execute member" },
		{ "{\"return\": {}} x", 0, "invalid JSON at byte 15: trailing data after the value" },
		{ "{\"return\": {}}{\"return\": {}}", 0, "invalid JSON at byte 14: trailing data" },
		{ "{\"return\": {}, \"event\": \"STOP\"}", 0, "not a QMP message: more than one of" },
		{ "{\"execute\": \"a\", \"exec-oob\": \"b\"}", 0, "not a QMP message: more than one of" },
		{ "{\"error\": \"x\", \"id\": 1}", 0, "not a QMP message: error without class and desc strings" },
		{ "{\"error\": {\"class\": 1, \"desc\": \"d\"}}", 0, "not a QMP message: error without class" },
		{ "{\"error\": {\"class\": \"c\"}}", 0, "not a QMP message: error without class" },
		{ "{\"event\": 5}", 0, "not a QMP message: event name is not a string" },
		{ "{\"event\": null}", 0, "not a QMP message: event name is not a string" },
		{ "{\"execute\": [\"x\"]}", 0, "not a QMP message: execute name is not a string" },
		{ "{\"execute\": \"x\", \"arguments\": [1]}", 0, "not a QMP message: arguments is not an object" },
		{ "{\"QMP\": 1}", 0, "not a QMP message: QMP member is not an object" },
		{ "{\"return\": {}}\0", 15, "invalid JSON at byte 14: embedded NUL byte" },
		{ "{\"ret\0urn\": {}}", 15, "invalid JSON at byte 5: embedded NUL byte" },
		{ "\0", 1, "invalid JSON at byte 0: embedded NUL byte" },
		{ "\r\0\r", 3, "invalid JSON at byte 1: embedded NUL byte" },
		{ "\xff\xfe{}", 0, "invalid JSON at byte 0" },
		/* Invalid UTF-8 inside a string: rejecting is fine, accepting would be too. */
		{ "{\"return\": \"\xc3\x28 \xed\xa0\x80 \xf8\x88\x80\x80\x80\"}", 0, NULL },
		{ "{\"return\": \"\\ud800\"}", 0, NULL },
		{ "{'return': {}}", 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct qmp_reader *r = reader_new(0);
		size_t len = cases[i].len ?: strlen(cases[i].line);
		struct qmp_msg *m = NULL;
		int k;

		/* A valid line before and after: the bad one must not disturb either. */
		feeds(r, "{\"return\": {}, \"id\": 1}\r\n");
		feed(r, cases[i].line, len);
		feeds(r, "\r\n{\"return\": {}, \"id\": 2}\r\n");
		m = next_msg(r, QMP_MSG_RETURN);
		assert_int_equal(json_object_get_int(m->id), 1);
		qmp_msg_free(m);
		m = NULL;
		k = qmp_reader_next(r, &m);
		if (cases[i].error) {
			if (k != -EBADMSG)
				fail_msg("case %zu: qmp_reader_next() = %d, expected -EBADMSG", i, k);
			if (strncmp(qmp_reader_error(r), cases[i].error, strlen(cases[i].error)) != 0)
				fail_msg("case %zu: error \"%s\", expected \"%s...\"", i, qmp_reader_error(r),
					 cases[i].error);
		} else {
			assert_true(k == -EBADMSG || k == 1);
		}
		qmp_msg_free(m);
		m = next_msg(r, QMP_MSG_RETURN);
		assert_int_equal(json_object_get_int(m->id), 2);
		assert_string_equal(qmp_reader_error(r), "");
		qmp_msg_free(m);
		next_none(r);
		qmp_reader_free(r);
	}
}

/*
 * json-c cuts an object's key at a \u0000 escape without a word: {"execute":"stop","arguments":{"force\u0000x":1}}
 * would reach a command as "force". Any \u0000, key or value, is refused; an escaped backslash before "u0000" is text.
 */
static void test_nul_escape(void **state)
{
	struct qmp_reader *r = reader_new(0);
	struct qmp_msg *m;

	(void)state;
	feeds(r, "{\"execute\": \"stop\", \"arguments\": {\"force\\u0000x\": true}}\n");
	next_error(r, -EBADMSG);
	assert_non_null(strstr(qmp_reader_error(r), "NUL"));
	feeds(r, "{\"execute\": \"status\", \"id\": \"a\\u0000\"}\n");
	next_error(r, -EBADMSG);
	feeds(r, "{\"execute\": \"status\", \"id\": \"a\\\\u0000\"}\n");
	m = next_msg(r, QMP_MSG_COMMAND);
	assert_string_equal(json_object_get_string(json_object_object_get(m->root, "id")), "a\\u0000");
	qmp_msg_free(m);
	next_none(r);
	qmp_reader_free(r);
	assert_int_equal(json_text_nul_escape("\"\\\"\\u0000\"", 10), 3);
	assert_true(json_text_nul_escape("\\u0000", 6) == SIZE_MAX);
}

/* Nesting deeper than the parser allows is an error, not a stack overflow. */
static void test_deep_nesting(void **state)
{
	struct qmp_reader *r = reader_new(0);
	size_t depth = 100000;
	char *s = malloc(2 * depth + 32);

	(void)state;
	assert_non_null(s);
	strcpy(s, "{\"return\": ");
	size_t n = strlen(s);
	memset(s + n, '[', depth);
	memset(s + n + depth, ']', depth);
	strcpy(s + n + 2 * depth, "}\n{\"return\": 1}\n");
	feeds(r, s);
	next_error(r, -EBADMSG);
	qmp_msg_free(next_msg(r, QMP_MSG_RETURN));
	free(s);
	qmp_reader_free(r);
}

/* 10 MiB without a newline: memory stays bounded, one -EMSGSIZE, and the next line parses. */
static void test_oversized_bounded(void **state)
{
	const size_t chunk = 64 * 1024, total = 10 * 1024 * 1024;
	char *junk = malloc(chunk);

	(void)state;
	assert_non_null(junk);
	memset(junk, 'x', chunk);
	junk[0] = '{';

	/* Without taking messages out in between: feed alone drops the line. */
	struct qmp_reader *r = reader_new(0);
	for (size_t sent = 0; sent < total; sent += chunk) {
		feed(r, junk, chunk);
		assert_true(qmp_reader_buffered(r) <= QMP_LINE_MAX_DEFAULT + chunk);
	}
	feeds(r, "xx\r\n{\"return\": {}, \"id\": 7}\r\n");
	next_error(r, -EMSGSIZE);
	assert_string_equal(qmp_reader_error(r), "line longer than 1048576 bytes");
	struct qmp_msg *m = next_msg(r, QMP_MSG_RETURN);
	assert_int_equal(json_object_get_int(m->id), 7);
	qmp_msg_free(m);
	next_none(r);
	assert_int_equal(qmp_reader_buffered(r), 0);
	qmp_reader_free(r);

	/* Taking messages out after every chunk, as a poll loop does: the error is reported once, as soon as known. */
	r = reader_new(0);
	unsigned errors = 0;
	feeds(r, "{\"event\": \"A\"}\r\n");
	qmp_msg_free(next_msg(r, QMP_MSG_EVENT));
	for (size_t sent = 0; sent < total; sent += chunk) {
		struct qmp_msg *x = NULL;
		int k;

		feed(r, junk, chunk);
		assert_true(qmp_reader_buffered(r) <= QMP_LINE_MAX_DEFAULT + chunk);
		while ((k = qmp_reader_next(r, &x)) != 0) {
			assert_int_equal(k, -EMSGSIZE);
			errors++;
		}
		if (sent + chunk > QMP_LINE_MAX_DEFAULT)
			assert_int_equal(errors, 1);
	}
	feeds(r, "\n{\"event\": \"B\"}\n");
	m = next_msg(r, QMP_MSG_EVENT);
	assert_string_equal(m->name, "B");
	qmp_msg_free(m);
	next_none(r);
	assert_int_equal(errors, 1);
	qmp_reader_free(r);
	free(junk);
}

/* Oversized lines arriving whole, next to valid ones, are reported in stream order. */
static void test_oversized_order(void **state)
{
	struct qmp_reader *r = reader_new(32);
	struct qmp_msg *m;
	char big[100];

	(void)state;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	feeds(r, "{\"event\": \"A\"}\r\n");
	feeds(r, big);
	feeds(r, "\r\n{\"event\": \"B\"}\r\n");
	feeds(r, big);
	feeds(r, "\n");
	feeds(r, big);
	feeds(r, "\n{\"event\": \"C\"}\n");
	m = next_msg(r, QMP_MSG_EVENT);
	assert_string_equal(m->name, "A");
	qmp_msg_free(m);
	next_error(r, -EMSGSIZE);
	m = next_msg(r, QMP_MSG_EVENT);
	assert_string_equal(m->name, "B");
	qmp_msg_free(m);
	next_error(r, -EMSGSIZE);
	next_error(r, -EMSGSIZE);
	m = next_msg(r, QMP_MSG_EVENT);
	assert_string_equal(m->name, "C");
	qmp_msg_free(m);
	next_none(r);
	assert_int_equal(qmp_reader_buffered(r), 0);
	qmp_reader_free(r);
}

/* line_max counts the bytes before "\n": exactly line_max is accepted, one more is not. */
static void test_line_max_boundary(void **state)
{
	const size_t max = 40;
	struct qmp_reader *r = reader_new(max);
	char line[64];

	(void)state;
	/* {"return": 1} padded with spaces to exactly max bytes. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "{\"return\": 1}", 13);
	line[max] = '\n';
	feed(r, line, max + 1);
	qmp_msg_free(next_msg(r, QMP_MSG_RETURN));
	line[max] = ' ';
	line[max + 1] = '\n';
	feed(r, line, max + 2);
	next_error(r, -EMSGSIZE);
	assert_string_equal(qmp_reader_error(r), "line longer than 40 bytes");
	/* The same, byte by byte. */
	for (size_t i = 0; i < max + 2; i++)
		feed(r, line + i, 1);
	next_error(r, -EMSGSIZE);
	next_none(r);
	qmp_reader_free(r);

	assert_int_equal(qmp_reader_new((size_t)INT_MAX, &r), -EINVAL);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15;

/* xorshift64: a fixed seed, so that a failure reproduces. */
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/*
 * A random soup of valid lines, garbage lines (random bytes, NULs included), oversized lines and blank lines, fed in
 * random chunks and taken out at random moments: exactly the expected sequence of results comes out, in order.
 */
static void test_random_soup(void **state)
{
	const size_t max = 256;

	(void)state;
	for (int round = 0; round < 50; round++) {
		struct qmp_reader *r = reader_new(max);
		char *stream = NULL, *expect = NULL, *got = NULL;
		size_t stream_len = 0, expect_len = 0, got_len = 0;
		FILE *s = open_memstream(&stream, &stream_len);
		FILE *e = open_memstream(&expect, &expect_len);
		FILE *g = open_memstream(&got, &got_len);

		for (int i = 0; i < 200; i++) {
			size_t n;

			switch (rnd() % 4) {
			case 0:
				fprintf(s, "{\"event\": \"E%d\"}%s", i, rnd() % 2 ? "\r\n" : "\n");
				fprintf(e, "event {\"event\":\"E%d\"}\n", i);
				break;
			case 1:
				/* Starts with '#', so it is never blank and never JSON. */
				n = rnd() % max;
				fputc('#', s);
				for (size_t j = 1; j < n; j++) {
					char c = (char)(rnd() % 256);
					fputc(c == '\n' ? 'n' : c, s);
				}
				fputc('\n', s);
				fprintf(e, "FAILED %d\n", -EBADMSG);
				break;
			case 2:
				n = max + 1 + rnd() % (4 * max);
				for (size_t j = 0; j < n; j++)
					fputc('{', s);
				fputs("\r\n", s);
				fprintf(e, "FAILED %d\n", -EMSGSIZE);
				break;
			default:
				fputs(rnd() % 2 ? "\r\n" : " \t\n", s);
				break;
			}
		}
		fclose(s);
		fclose(e);

		for (size_t off = 0; off < stream_len;) {
			size_t n = 1 + rnd() % (rnd() % 2 ? 8 : 2048);

			if (n > stream_len - off)
				n = stream_len - off;
			feed(r, stream + off, n);
			off += n;
			assert_true(qmp_reader_buffered(r) <= off);
			if (rnd() % 3 == 0)
				drain(r, g);
		}
		drain(r, g);
		fclose(g);
		assert_int_equal(qmp_reader_buffered(r), 0);
		assert_string_equal(got, expect);
		free(stream);
		free(expect);
		free(got);
		qmp_reader_free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transcripts_sequence),
		cmocka_unit_test(test_transcripts_split),
		cmocka_unit_test(test_transcript_lf_and_blank_lines),
		cmocka_unit_test(test_transcript_fields),
		cmocka_unit_test(test_several_and_partial),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_nul_escape),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_oversized_bounded),
		cmocka_unit_test(test_oversized_order),
		cmocka_unit_test(test_line_max_boundary),
		cmocka_unit_test(test_random_soup),
	};

	return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}
