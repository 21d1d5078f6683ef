/* SPDX-License-Identifier: MIT */
/* Unit tests for qmp/qmp.c's message side: qmp_msg_classify() called directly, type names, the cleanup macro. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "util/json.h"
#include "util/macro.h"

static struct json_object *path(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, a, &v));
	if (b)
		assert_true(json_object_object_get_ex(v, b, &v));
	return v;
}

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

static void test_classify(void **state)
{
	struct qmp_msg *m, *untouched = (struct qmp_msg *)&untouched;
	struct json_object *o;

	(void)state;
	o = parse("{\"execute\": \"query-status\", \"arguments\": {\"a\": 1}, \"id\": \"x\"}");
	assert_int_equal(qmp_msg_classify(o, &m), 0);
	/* The message holds its own reference. */
	json_object_put(o);
	assert_int_equal(m->type, QMP_MSG_COMMAND);
	assert_string_equal(m->name, "query-status");
	assert_int_equal(json_object_get_int(path(m->data, "a", NULL)), 1);
	assert_string_equal(json_object_get_string(m->id), "x");
	qmp_msg_free(m);

	o = parse("{\"exec-oob\": \"migrate-pause\"}");
	assert_int_equal(qmp_msg_classify(o, &m), 0);
	assert_int_equal(m->type, QMP_MSG_COMMAND);
	assert_string_equal(m->name, "migrate-pause");
	assert_null(m->data);
	assert_null(m->id);
	qmp_msg_free(m);
	json_object_put(o);

	o = parse("{\"event\": \"X\", \"data\": {\"k\": true}, \"timestamp\": {\"seconds\": 5, \"microseconds\": 6}}");
	assert_int_equal(qmp_msg_classify(o, &m), 0);
	assert_int_equal(m->ts_sec, 5);
	assert_int_equal(m->ts_usec, 6);
	assert_true(json_object_get_boolean(path(m->data, "k", NULL)));
	qmp_msg_free(m);
	json_object_put(o);

	/* Absent or malformed timestamps read as 0; a null id counts as absent. */
	o = parse("{\"event\": \"X\", \"timestamp\": {\"seconds\": \"5\"}, \"id\": null}");
	assert_int_equal(qmp_msg_classify(o, &m), 0);
	assert_int_equal(m->ts_sec, 0);
	assert_int_equal(m->ts_usec, 0);
	assert_null(m->id);
	qmp_msg_free(m);
	json_object_put(o);

	o = parse("{\"return\": [1], \"id\": 3}");
	assert_int_equal(qmp_msg_classify(o, &m), 0);
	assert_int_equal(m->type, QMP_MSG_RETURN);
	assert_int_equal(json_object_array_length(m->data), 1);
	assert_null(m->error_class);
	qmp_msg_free(m);
	json_object_put(o);

	/* Failures leave *ret alone and take no reference. */
	m = untouched;
	o = parse("{\"return\": 1, \"QMP\": {}}");
	assert_int_equal(qmp_msg_classify(o, &m), -EBADMSG);
	assert_ptr_equal(m, untouched);
	json_object_put(o);
	assert_int_equal(qmp_msg_classify(NULL, &m), -EBADMSG);
	o = parse("[]");
	assert_int_equal(qmp_msg_classify(o, &m), -EBADMSG);
	assert_ptr_equal(m, untouched);
	json_object_put(o);

	qmp_msg_free(NULL);
	qmp_reader_free(NULL);
}

static void test_type_to_string(void **state)
{
	(void)state;
	assert_string_equal(qmp_msg_type_to_string(QMP_MSG_GREETING), "greeting");
	assert_string_equal(qmp_msg_type_to_string(QMP_MSG_RETURN), "return");
	assert_string_equal(qmp_msg_type_to_string(QMP_MSG_ERROR), "error");
	assert_string_equal(qmp_msg_type_to_string(QMP_MSG_EVENT), "event");
	assert_string_equal(qmp_msg_type_to_string(QMP_MSG_COMMAND), "command");
	assert_null(qmp_msg_type_to_string(QMP_MSG_TYPE_MAX));
	assert_null(qmp_msg_type_to_string((enum qmp_msg_type) - 1));
}

static void test_cleanup_macro(void **state)
{
	struct json_object *o = parse("{\"return\": {}}");

	(void)state;
	{
		_cleanup_qmp_msg_ struct qmp_msg *m = NULL;

		assert_int_equal(qmp_msg_classify(o, &m), 0);
	}
	{
		_cleanup_qmp_msg_ struct qmp_msg *none = NULL;

		(void)none;
	}
	/* The message's reference went with it; this drops the last one, or valgrind reports a leak. */
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_type_to_string),
		cmocka_unit_test(test_cleanup_macro),
	};

	return cmocka_run_group_tests_name("qmp_msg", tests, NULL, NULL);
}
