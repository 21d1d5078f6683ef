/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for util/utf8.c: ill-formed UTF-8 replaced the way Unicode §3.9 and the WHATWG decoder do (the cases are
 * those of Unicode's Table 3-8 and of Markus Kuhn's UTF-8 decoder stress test, from memory), control characters
 * escaped for a terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/macro.h"
#include "util/utf8.h"

#define FFFD "\xef\xbf\xbd"

static void valid(const char *in, const char *want)
{
	_cleanup_free_ char *got = utf8_make_valid(in);

	assert_non_null(got);
	assert_string_equal(got, want);
}

static void escaped(const char *in, const char *want)
{
	_cleanup_free_ char *got = utf8_escape_controls(in);

	assert_non_null(got);
	assert_string_equal(got, want);
}

static void test_well_formed_is_kept(void **state)
{
	(void)state;
	valid("", "");
	valid("GRID P40-2B", "GRID P40-2B");
	/* Two, three and four bytes, and the edges of each range. */
	valid("R\xc3\xa9solution \xe2\x82\xac \xf0\x9f\x98\x80", "R\xc3\xa9solution \xe2\x82\xac \xf0\x9f\x98\x80");
	valid("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf",
	      "\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf");
}

static void test_ill_formed_is_replaced(void **state)
{
	(void)state;
	/* Latin-1: each byte is a lead without its continuation. */
	valid("R\xe9sum\xe9", "R" FFFD "sum" FFFD);
	/* A character cut at the end (a 4 KiB attribute read in full), and one cut before more text. */
	valid("x\xc3", "x" FFFD);
	valid("\xe2\x82x", FFFD "x");
	valid("\xf0\x9f\x98", FFFD);
	/* Lone continuation bytes: one each. */
	valid("\x80\xbf", FFFD FFFD);
	/* Overlong forms, surrogates and code points past U+10FFFF: every byte on its own (Table 3-8). */
	valid("\xc0\xaf", FFFD FFFD);
	valid("\xe0\x80\xaf", FFFD FFFD FFFD);
	valid("\xed\xa0\x80", FFFD FFFD FFFD);
	valid("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
	valid("\xf5\xff\xfe", FFFD FFFD FFFD);
	/* Table 3-8's own example: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64. */
	valid("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");
}

static void test_controls_are_escaped(void **state)
{
	(void)state;
	escaped("plain text, 1920x1200", "plain text, 1920x1200");
	escaped("\x1b[2J\x1b[1;31mred\x1b[0m", "\\x1b[2J\\x1b[1;31mred\\x1b[0m");
	escaped("a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd");
	escaped("bell\x07 del\x7f", "bell\\x07 del\\x7f");
	/* C1 controls: U+009B is CSI for terminals that take 8-bit controls. */
	escaped("\xc2\x9b" "2J \xc2\x85", "\\x9b2J \\x85");
	/* Not controls: U+00A0 and up. */
	escaped("\xc2\xa0\xc3\xa9", "\xc2\xa0\xc3\xa9");
	/* A backslash is doubled, so that "\x1b" in the text is not an escaped ESC. */
	escaped("a\\x1b", "a\\\\x1b");
	/* Ill-formed text is replaced first, and the bytes of a replaced sequence are not taken for controls. */
	escaped("\xe9\x1b", FFFD "\\x1b");
	escaped("\xc2", FFFD);
}

static void test_columns(void **state)
{
	(void)state;
	assert_int_equal(utf8_columns(""), 0);
	assert_int_equal(utf8_columns("GVTg_V5_4"), 9);
	assert_int_equal(utf8_columns("R\xc3\xa9sum\xc3\xa9 " FFFD), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_well_formed_is_kept),
		cmocka_unit_test(test_ill_formed_is_replaced),
		cmocka_unit_test(test_controls_are_escaped),
		cmocka_unit_test(test_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
