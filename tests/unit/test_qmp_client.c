/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for qmp/qmp_client.c and qmp/qmp_encode.c: id allocation, reply matching against the recorded QEMU 7.2
 * session, dropped and cancelled replies, and every encoder's output read back through the reader.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "qmp/qmp_client.h"
#include "qmp/qmp_encode.h"
#include "util/json.h"
#include "util/macro.h"
#include "tests/unit/data-file.h"

static struct qmp_client *client_new(void)
{
	struct qmp_client *c = NULL;

	assert_int_equal(qmp_client_new(&c), 0);
	assert_non_null(c);
	return c;
}

static void cfeed(struct qmp_client *c, const char *s)
{
	assert_int_equal(qmp_client_feed(c, s, strlen(s)), 0);
}

static uint64_t send_cmd(struct qmp_client *c, const char *command, struct json_object *args, void *cookie)
{
	uint64_t id = 0;

	assert_int_equal(qmp_client_send(c, command, args, cookie, &id), 0);
	assert_true(id > 0);
	return id;
}

/* Expects a message of the given type with the given cookie. */
static struct qmp_msg *cnext(struct qmp_client *c, enum qmp_msg_type type, void *cookie)
{
	struct qmp_msg *m = NULL;
	void *got = (void *)&got;
	int k = qmp_client_next(c, &m, &got);

	if (k != 1)
		fail_msg("qmp_client_next() = %d (%s), expected a %s", k, qmp_client_error(c),
			 qmp_msg_type_to_string(type));
	if (m->type != type)
		fail_msg("got a %s, expected a %s", qmp_msg_type_to_string(m->type), qmp_msg_type_to_string(type));
	assert_ptr_equal(got, cookie);
	return m;
}

static void cnone(struct qmp_client *c)
{
	struct qmp_msg *m = NULL;

	assert_int_equal(qmp_client_next(c, &m, NULL), 0);
	assert_null(m);
}

static char *output_string(const struct qmp_client *c)
{
	const char *p;
	size_t n;

	qmp_client_output(c, &p, &n);
	return strndup(p, n);
}

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

static void test_client_ids_and_output(void **state)
{
	struct qmp_client *c = client_new();
	struct json_object *args = parse("{\"a\": 1, \"s\": \"x/y\\n\"}");
	struct qmp_reader *r;
	struct qmp_msg *m = NULL;
	uint64_t id;
	char *out;

	(void)state;
	out = output_string(c);
	assert_string_equal(out, "");
	free(out);

	assert_int_equal(send_cmd(c, "qmp_capabilities", NULL, NULL), 1);
	assert_int_equal(send_cmd(c, "query-status", NULL, NULL), 2);
	assert_int_equal(qmp_client_send(c, "stop", args, NULL, NULL), 0);
	/* args was borrowed: the caller's reference is still the only one needed. */
	json_object_put(args);
	assert_int_equal(qmp_client_pending(c), 3);

	out = output_string(c);
	assert_string_equal(out, "{\"execute\":\"qmp_capabilities\",\"id\":1}\r\n"
				 "{\"execute\":\"query-status\",\"id\":2}\r\n"
				 "{\"execute\":\"stop\",\"arguments\":{\"a\":1,\"s\":\"x/y\\n\"},\"id\":3}\r\n");

	/* What a server reads back is the same commands. */
	assert_int_equal(qmp_reader_new(0, &r), 0);
	assert_int_equal(qmp_reader_feed(r, out, strlen(out)), 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(qmp_reader_next(r, &m), 1);
		assert_int_equal(m->type, QMP_MSG_COMMAND);
		assert_int_equal(json_object_get_int(m->id), i);
		if (i == 3) {
			assert_string_equal(m->name, "stop");
			assert_int_equal(json_object_get_int(json_object_object_get(m->data, "a")), 1);
		}
		qmp_msg_free(m);
	}
	qmp_reader_free(r);

	/* Partial writes: the rest stays, in order. */
	qmp_client_output_consume(c, 5);
	char *rest = output_string(c);
	assert_string_equal(rest, out + 5);
	free(rest);
	assert_int_equal(qmp_client_send(c, "cont", NULL, NULL, &id), 0);
	assert_int_equal(id, 4);
	rest = output_string(c);
	assert_true(strncmp(rest, out + 5, strlen(out) - 5) == 0);
	assert_string_equal(rest + strlen(out) - 5, "{\"execute\":\"cont\",\"id\":4}\r\n");
	free(rest);
	qmp_client_output_consume(c, SIZE_MAX);
	rest = output_string(c);
	assert_string_equal(rest, "");
	free(rest);
	free(out);

	/* Refused commands use no id and queue nothing. */
	args = parse("[1]");
	assert_int_equal(qmp_client_send(c, NULL, NULL, NULL, &id), -EINVAL);
	assert_int_equal(qmp_client_send(c, "", NULL, NULL, &id), -EINVAL);
	assert_int_equal(qmp_client_send(c, "x", args, NULL, &id), -EINVAL);
	json_object_put(args);
	assert_int_equal(id, 4);
	assert_int_equal(qmp_client_pending(c), 4);
	assert_int_equal(send_cmd(c, "cont", NULL, NULL), 5);

	qmp_client_free(c);
	qmp_client_free(NULL);
}

/*
 * The recorded session, replayed: the same commands with the same ids as record.py sent, each reply matched to its
 * cookie, events passed through in order, SHUTDOWN before quit's reply.
 */
static void test_client_session(void **state)
{
	static const char *const commands[] = {
		"qmp_capabilities", "query-status", "no-such-command", "query-status", "stop", "cont", "system_reset",
		"system_powerdown", "quit"
	};
	static const char *const expect[] = {
		"greeting",    "return 0",	  "return 1", "error 2",	"error 3",  "event STOP",
		"return 4",    "event RESUME",	  "return 5", "event RESET",	"return 6", "event RESET",
		"event RESET", "event POWERDOWN", "return 7", "event SHUTDOWN", "return 8",
	};
	int cookies[ELEMENTSOF(commands)];
	size_t len;
	char *buf = read_file("session-running.raw", &len);

	(void)state;
	/* Cut at a few places, including inside a line. */
	for (size_t cut = 0; cut < len; cut += 97) {
		struct qmp_client *c = client_new();
		size_t n = 0;

		for (size_t i = 0; i < ELEMENTSOF(commands); i++)
			assert_int_equal(send_cmd(c, commands[i], NULL, &cookies[i]), i + 1);
		assert_int_equal(qmp_client_feed(c, buf, cut), 0);
		for (int part = 0; part < 2; part++) {
			struct qmp_msg *m = NULL;
			void *cookie = NULL;
			char what[64];
			int k;

			while ((k = qmp_client_next(c, &m, &cookie)) == 1) {
				if (m->type == QMP_MSG_EVENT) {
					assert_null(cookie);
					snprintf(what, sizeof(what), "event %s", m->name);
				} else if (m->type == QMP_MSG_GREETING) {
					assert_null(cookie);
					snprintf(what, sizeof(what), "greeting");
				} else {
					int i = (int *)cookie - cookies;

					assert_true(i >= 0 && i < (int)ELEMENTSOF(commands));
					assert_int_equal(json_object_get_int(m->id), i + 1);
					snprintf(what, sizeof(what), "%s %d", qmp_msg_type_to_string(m->type), i);
				}
				assert_true(n < ELEMENTSOF(expect));
				assert_string_equal(what, expect[n]);
				n++;
				qmp_msg_free(m);
			}
			assert_int_equal(k, 0);
			if (part == 0)
				assert_int_equal(qmp_client_feed(c, buf + cut, len - cut), 0);
		}
		assert_int_equal(n, ELEMENTSOF(expect));
		assert_int_equal(qmp_client_pending(c), 0);
		assert_int_equal(qmp_client_dropped(c), 0);
		qmp_client_free(c);
	}
	free(buf);
}

static void test_client_matching(void **state)
{
	struct qmp_client *c = client_new();
	int a, b, q;
	struct qmp_msg *m;

	(void)state;
	/* Before anything was sent, the greeting comes through and stray replies are dropped. */
	cfeed(c, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n{\"return\": {}, \"id\": 1}\r\n");
	qmp_msg_free(cnext(c, QMP_MSG_GREETING, NULL));
	cnone(c);
	assert_int_equal(qmp_client_dropped(c), 1);

	/* Replies are matched by id, not by order. */
	assert_int_equal(send_cmd(c, "a", NULL, &a), 1);
	assert_int_equal(send_cmd(c, "b", NULL, &b), 2);
	cfeed(c, "{\"return\": \"for b\", \"id\": 2}\r\n{\"return\": \"for a\", \"id\": 1}\r\n");
	m = cnext(c, QMP_MSG_RETURN, &b);
	assert_string_equal(json_object_get_string(m->data), "for b");
	qmp_msg_free(m);
	assert_int_equal(qmp_client_pending(c), 1);
	m = cnext(c, QMP_MSG_RETURN, &a);
	assert_string_equal(json_object_get_string(m->data), "for a");
	qmp_msg_free(m);
	assert_int_equal(qmp_client_pending(c), 0);

	/* A reply seen twice is dropped the second time. */
	cfeed(c, "{\"return\": {}, \"id\": 1}\r\n");
	cnone(c);
	assert_int_equal(qmp_client_dropped(c), 2);

	/* quit as QEMU 7.2 answers it: the SHUTDOWN event first, then the reply. */
	assert_int_equal(send_cmd(c, "quit", NULL, &q), 3);
	cfeed(c, "{\"timestamp\": {\"seconds\": 1795290722, \"microseconds\": 262717}, \"event\": \"SHUTDOWN\", "
		 "\"data\": {\"guest\": false, \"reason\": \"host-qmp-quit\"}}\r\n{\"return\": {}, \"id\": 3}\r\n");
	m = cnext(c, QMP_MSG_EVENT, NULL);
	assert_string_equal(m->name, "SHUTDOWN");
	qmp_msg_free(m);
	assert_int_equal(qmp_client_pending(c), 1);
	qmp_msg_free(cnext(c, QMP_MSG_RETURN, &q));
	assert_int_equal(qmp_client_pending(c), 0);

	/* An error reply carries class and desc, and the cookie. */
	assert_int_equal(send_cmd(c, "no-such-command", NULL, &a), 4);
	cfeed(c, "{\"id\": 4, \"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command no-such-command has "
		 "not been found\"}}\r\n");
	m = cnext(c, QMP_MSG_ERROR, &a);
	assert_string_equal(m->error_class, "CommandNotFound");
	assert_string_equal(m->error_desc, "The command no-such-command has not been found");
	qmp_msg_free(m);
	cnone(c);
	qmp_client_free(c);
}

static void test_client_dropped(void **state)
{
	struct qmp_client *c = client_new();
	int a;
	struct qmp_msg *m;

	(void)state;
	assert_int_equal(send_cmd(c, "a", NULL, &a), 1);
	/* Unknown, non-integer, absent, negative and zero ids: none of them is command 1. */
	cfeed(c, "{\"return\": {}, \"id\": 99}\r\n"
		 "{\"return\": {}, \"id\": \"1\"}\r\n"
		 "{\"return\": {}, \"id\": 1.0}\r\n"
		 "{\"return\": {}, \"id\": [1]}\r\n"
		 "{\"return\": {}}\r\n"
		 "{\"return\": {}, \"id\": null}\r\n"
		 "{\"return\": {}, \"id\": -1}\r\n"
		 "{\"return\": {}, \"id\": 0}\r\n"
		 "{\"return\": {}, \"id\": 18446744073709551615}\r\n"
		 "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '}'\"}}\r\n"
		 "{\"event\": \"X\"}\r\n");
	m = cnext(c, QMP_MSG_EVENT, NULL);
	assert_string_equal(m->name, "X");
	qmp_msg_free(m);
	cnone(c);
	assert_int_equal(qmp_client_dropped(c), 10);
	assert_int_equal(qmp_client_pending(c), 1);
	cfeed(c, "{\"return\": {}, \"id\": 1}\n");
	qmp_msg_free(cnext(c, QMP_MSG_RETURN, &a));
	qmp_client_free(c);
}

static void test_client_cancel(void **state)
{
	struct qmp_client *c = client_new();
	int a, b;

	(void)state;
	assert_int_equal(send_cmd(c, "a", NULL, &a), 1);
	assert_int_equal(send_cmd(c, "b", NULL, &b), 2);
	assert_true(qmp_client_cancel(c, 1));
	assert_false(qmp_client_cancel(c, 1));
	assert_false(qmp_client_cancel(c, 42));
	assert_int_equal(qmp_client_pending(c), 1);
	cfeed(c, "{\"return\": {}, \"id\": 1}\r\n{\"return\": {}, \"id\": 2}\r\n");
	qmp_msg_free(cnext(c, QMP_MSG_RETURN, &b));
	cnone(c);
	assert_int_equal(qmp_client_dropped(c), 1);
	assert_int_equal(qmp_client_pending(c), 0);
	qmp_client_free(c);
}

static void test_client_errors(void **state)
{
	struct qmp_client *c = client_new();
	struct qmp_msg *m = NULL;
	int a;

	(void)state;
	assert_int_equal(send_cmd(c, "a", NULL, &a), 1);
	cfeed(c, "garbage\r\n{\"execute\": \"stop\"}\r\n{\"return\": 5, \"id\": 1}\r\n");
	assert_int_equal(qmp_client_next(c, &m, NULL), -EBADMSG);
	assert_true(strncmp(qmp_client_error(c), "invalid JSON at byte ", 21) == 0);
	/* A server does not send commands to a client. */
	assert_int_equal(qmp_client_next(c, &m, NULL), -EBADMSG);
	assert_string_equal(qmp_client_error(c), "not a QMP message for a client: a command");
	assert_null(m);
	m = cnext(c, QMP_MSG_RETURN, &a);
	assert_int_equal(json_object_get_int(m->data), 5);
	assert_string_equal(qmp_client_error(c), "");
	qmp_msg_free(m);
	qmp_client_free(c);
}

/* Reads back one encoded message, checking it is exactly one line ending in "\r\n". */
static struct qmp_msg *decode(char *line, enum qmp_msg_type type)
{
	struct qmp_reader *r;
	struct qmp_msg *m = NULL;
	size_t n = strlen(line);

	assert_true(n >= 2);
	assert_string_equal(line + n - 2, "\r\n");
	assert_ptr_equal(strchr(line, '\n'), line + n - 1);
	assert_ptr_equal(strchr(line, '\r'), line + n - 2);
	assert_int_equal(qmp_reader_new(0, &r), 0);
	assert_int_equal(qmp_reader_feed(r, line, n), 0);
	assert_int_equal(qmp_reader_next(r, &m), 1);
	assert_int_equal(m->type, type);
	assert_int_equal(qmp_reader_next(r, &(struct qmp_msg *){ NULL }), 0);
	qmp_reader_free(r);
	free(line);
	return m;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void test_encode_greeting(void **state)
{
	struct qmp_msg *m;
	char *s = NULL;

	(void)state;
	assert_int_equal(qmp_encode_greeting("vgpuvm", "0.1.0", &s), 0);
	assert_string_equal(s, "{\"QMP\":{\"version\":{\"qemu\":{\"micro\":0,\"minor\":1,\"major\":0},"
			       "\"package\":\"vgpuvm 0.1.0\"},\"capabilities\":[]}}\r\n");
	m = decode(s, QMP_MSG_GREETING);
	assert_string_equal(json_object_get_string(get(get(m->data, "version"), "package")), "vgpuvm 0.1.0");
	assert_int_equal(json_object_array_length(get(m->data, "capabilities")), 0);
	qmp_msg_free(m);

	assert_int_equal(qmp_encode_greeting("vgpuvm", "12.34-rc1", &s), 0);
	m = decode(s, QMP_MSG_GREETING);
	struct json_object *qemu = get(get(m->data, "version"), "qemu");
	assert_int_equal(json_object_get_int(get(qemu, "major")), 12);
	assert_int_equal(json_object_get_int(get(qemu, "minor")), 34);
	assert_int_equal(json_object_get_int(get(qemu, "micro")), 0);
	qmp_msg_free(m);

	assert_int_equal(qmp_encode_greeting("vgpuvm", NULL, &s), 0);
	m = decode(s, QMP_MSG_GREETING);
	assert_string_equal(json_object_get_string(get(get(m->data, "version"), "package")), "vgpuvm");
	qmp_msg_free(m);

	s = (char *)&s;
	assert_int_equal(qmp_encode_greeting(NULL, "1", &s), -EINVAL);
	assert_ptr_equal(s, (char *)&s);
}

static void test_encode_return(void **state)
{
	struct json_object *id = json_object_new_int(5), *value = parse("{\"a\": [1, 2], \"b\": \"q\\\"/\"}");
	struct qmp_msg *m;
	char *s = NULL;

	(void)state;
	assert_int_equal(qmp_encode_return(id, NULL, &s), 0);
	assert_string_equal(s, "{\"return\":{},\"id\":5}\r\n");
	m = decode(s, QMP_MSG_RETURN);
	assert_int_equal(json_object_object_length(m->data), 0);
	assert_int_equal(json_object_get_int(m->id), 5);
	qmp_msg_free(m);

	assert_int_equal(qmp_encode_return(NULL, value, &s), 0);
	m = decode(s, QMP_MSG_RETURN);
	assert_true(json_object_equal(m->data, value));
	assert_null(m->id);
	qmp_msg_free(m);
	json_object_put(value);
	json_object_put(id);

	/* Ids of any type come back as they were sent. */
	id = parse("{\"client\": \"x\", \"n\": [1]}");
	value = json_object_new_array();
	assert_int_equal(qmp_encode_return(id, value, &s), 0);
	m = decode(s, QMP_MSG_RETURN);
	assert_true(json_object_equal(m->id, id));
	assert_true(json_object_is_type(m->data, json_type_array));
	qmp_msg_free(m);
	json_object_put(value);
	json_object_put(id);

	/* Through a client: the encoded reply is matched to the command. */
	struct qmp_client *c = client_new();
	int cookie;
	uint64_t n = send_cmd(c, "x", NULL, &cookie);
	id = json_object_new_int64((int64_t)n);
	assert_int_equal(qmp_encode_return(id, NULL, &s), 0);
	cfeed(c, s);
	free(s);
	qmp_msg_free(cnext(c, QMP_MSG_RETURN, &cookie));
	json_object_put(id);
	qmp_client_free(c);
}

static void test_encode_error(void **state)
{
	struct json_object *id = json_object_new_string("abc");
	struct qmp_msg *m;
	char *s = NULL;

	(void)state;
	assert_int_equal(qmp_encode_error(id, "GenericError", "two\nlines \"quoted\"\r\x01", &s), 0);
	m = decode(s, QMP_MSG_ERROR);
	assert_string_equal(m->error_class, "GenericError");
	assert_string_equal(m->error_desc, "two\nlines \"quoted\"\r\x01");
	assert_string_equal(json_object_get_string(m->id), "abc");
	qmp_msg_free(m);

	assert_int_equal(qmp_encode_error(NULL, "CommandNotFound", "The command x has not been found", &s), 0);
	assert_string_equal(s, "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"The command x has not been "
			       "found\"}}\r\n");
	free(s);
	assert_int_equal(qmp_encode_error(id, "x", "y", &s), 0);
	assert_string_equal(s, "{\"id\":\"abc\",\"error\":{\"class\":\"x\",\"desc\":\"y\"}}\r\n");
	free(s);

	assert_int_equal(qmp_encode_error(id, NULL, "d", &s), -EINVAL);
	assert_int_equal(qmp_encode_error(id, "c", NULL, &s), -EINVAL);
	json_object_put(id);
}

static void test_encode_event(void **state)
{
	struct json_object *data = parse("{\"guest\": true, \"reason\": \"guest-shutdown\"}");
	struct qmp_msg *m;
	char *s = NULL;

	(void)state;
	assert_int_equal(qmp_encode_event("SHUTDOWN", data, UINT64_C(1795290730481516), &s), 0);
	assert_string_equal(s, "{\"timestamp\":{\"seconds\":1795290730,\"microseconds\":481516},\"event\":\"SHUTDOWN\","
			       "\"data\":{\"guest\":true,\"reason\":\"guest-shutdown\"}}\r\n");
	m = decode(s, QMP_MSG_EVENT);
	assert_string_equal(m->name, "SHUTDOWN");
	assert_int_equal(m->ts_sec, 1795290730);
	assert_int_equal(m->ts_usec, 481516);
	assert_true(json_object_equal(m->data, data));
	qmp_msg_free(m);
	json_object_put(data);

	assert_int_equal(qmp_encode_event("STOP", NULL, 999999, &s), 0);
	m = decode(s, QMP_MSG_EVENT);
	assert_null(m->data);
	assert_int_equal(m->ts_sec, 0);
	assert_int_equal(m->ts_usec, 999999);
	qmp_msg_free(m);

	assert_int_equal(qmp_encode_event(NULL, NULL, 0, &s), -EINVAL);
	assert_int_equal(qmp_encode_event("", NULL, 0, &s), -EINVAL);
}

static void test_encode_command(void **state)
{
	struct json_object *args = parse("{\"id\": \"hostdev0\"}"), *id = json_object_new_int(7);
	struct qmp_msg *m;
	char *s = NULL;

	(void)state;
	assert_int_equal(qmp_encode_command("device_del", args, id, &s), 0);
	m = decode(s, QMP_MSG_COMMAND);
	assert_string_equal(m->name, "device_del");
	assert_true(json_object_equal(m->data, args));
	assert_int_equal(json_object_get_int(m->id), 7);
	qmp_msg_free(m);

	assert_int_equal(qmp_encode_command("quit", NULL, NULL, &s), 0);
	assert_string_equal(s, "{\"execute\":\"quit\"}\r\n");
	free(s);
	assert_int_equal(qmp_encode_command("quit", id, NULL, &s), -EINVAL);
	assert_int_equal(qmp_encode_command(NULL, NULL, NULL, &s), -EINVAL);
	json_object_put(args);
	json_object_put(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_ids_and_output), cmocka_unit_test(test_client_session),
		cmocka_unit_test(test_client_matching),	      cmocka_unit_test(test_client_dropped),
		cmocka_unit_test(test_client_cancel),	      cmocka_unit_test(test_client_errors),
		cmocka_unit_test(test_encode_greeting),	      cmocka_unit_test(test_encode_return),
		cmocka_unit_test(test_encode_error),	      cmocka_unit_test(test_encode_event),
		cmocka_unit_test(test_encode_command),
	};

	return cmocka_run_group_tests_name("qmp_client", tests, NULL, NULL);
}
