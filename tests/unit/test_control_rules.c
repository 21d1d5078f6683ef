/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the control socket's rules: how often a refused uid is logged (supervisor/refusals.c) and which QMP
 * commands the `qmp` passthrough lets through, for whom (supervisor/passthrough.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/vm/passthrough.h"
#include "supervisor/vm/refusals.h"

#define SEC UINT64_C(1000000)

/* 2000 refusals in a burst: one line at the first, then one a minute later with the count since. */
static void test_refusals_burst(void **state)
{
	struct refusals t = {};
	uint64_t now = 1000 * SEC, since = 99;
	unsigned count = 0, lines = 0;

	(void)state;
	assert_true(refusals_note(&t, 65534, now, &count, &since));
	assert_int_equal(count, 1);
	assert_int_equal(since, 0);
	for (int i = 0; i < 1999; i++)
		if (refusals_note(&t, 65534, now + (uint64_t)i * 1000, &count, &since))
			lines++;
	assert_int_equal(lines, 0);
	/* Just short of a minute: still quiet. */
	assert_false(refusals_note(&t, 65534, now + 60 * SEC - 1, &count, &since));
	assert_true(refusals_note(&t, 65534, now + 60 * SEC, &count, &since));
	assert_int_equal(count, 2001);
	assert_int_equal(since, 60 * SEC);
	/* The count starts again after each line. */
	assert_false(refusals_note(&t, 65534, now + 61 * SEC, &count, &since));
	assert_true(refusals_note(&t, 65534, now + 125 * SEC, &count, &since));
	assert_int_equal(count, 2);
	assert_int_equal(since, 65 * SEC);
}

/* Each uid is counted on its own; the table stays fixed in size, the uid logged longest ago giving way. */
static void test_refusals_uids(void **state)
{
	struct refusals t = {};
	uint64_t since;
	unsigned count;

	(void)state;
	assert_true(refusals_note(&t, 1000, 10 * SEC, &count, &since));
	assert_true(refusals_note(&t, 1001, 11 * SEC, &count, &since));
	assert_false(refusals_note(&t, 1000, 12 * SEC, &count, &since));
	assert_false(refusals_note(&t, 1001, 12 * SEC, &count, &since));
	for (uid_t u = 2000; u < 2000 + REFUSALS_SLOTS - 2; u++)
		assert_true(refusals_note(&t, u, 20 * SEC, &count, &since));
	/* The table is full: a new uid takes uid 1000's slot (logged at 10 s), and 1001 keeps its own. */
	assert_true(refusals_note(&t, 3000, 21 * SEC, &count, &since));
	assert_false(refusals_note(&t, 1001, 22 * SEC, &count, &since));
	assert_true(refusals_note(&t, 1000, 23 * SEC, &count, &since));
	assert_int_equal(count, 1);
	assert_int_equal(since, 0);
	/* A clock that reads earlier than the last line says nothing. */
	assert_false(refusals_note(&t, 3000, 1 * SEC, &count, &since));
}

static void test_passthrough_who(void **state)
{
	(void)state;
	/* A group member passes nothing through, not even a harmless query. */
	assert_non_null(passthrough_refusal("query-status", false, false));
	assert_null(passthrough_refusal("query-status", false, true));
	assert_null(passthrough_refusal("query-status", true, false));
	assert_null(passthrough_refusal("query-name", true, true));
}

static void test_passthrough_what(void **state)
{
	static const char *const never[] = { "qmp_capabilities", "quit", "add-fd", "remove-fd", "getfd", "closefd" };
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		assert_non_null(passthrough_refusal(never[i], true, true));
		assert_non_null(passthrough_refusal(never[i], false, true));
	}
	why = passthrough_refusal("quit", true, false);
	assert_non_null(strstr(why, "vgpuvm stop"));
	/* HMP: root's alone. */
	assert_non_null(passthrough_refusal("human-monitor-command", false, true));
	assert_null(passthrough_refusal("human-monitor-command", true, true));
	/* Names are exact: QMP does not fold case or underscores for these. */
	assert_null(passthrough_refusal("quit-not", false, true));
}

static void test_passthrough_printable(void **state)
{
	char buf[8];

	(void)state;
	assert_string_equal(passthrough_printable("query-status", buf, sizeof(buf)), "query-s");
	assert_string_equal(passthrough_printable("a\nb\x1b[c", buf, sizeof(buf)), "a?b??c");
	assert_string_equal(passthrough_printable("x_y-1", buf, sizeof(buf)), "x_y-1");
	assert_string_equal(passthrough_printable("\xc3\xa9", buf, sizeof(buf)), "??");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals_burst),	      cmocka_unit_test(test_refusals_uids),
		cmocka_unit_test(test_passthrough_who),	      cmocka_unit_test(test_passthrough_what),
		cmocka_unit_test(test_passthrough_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
