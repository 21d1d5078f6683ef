/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for util/utf8.c: ill-formed UTF-8 replaced the way Unicode §3.9 and the WHATWG decoder do (the cases are
 * those of Unicode's Table 3-8 and of Markus Kuhn's UTF-8 decoder stress test, from memory), control characters
 * escaped for a terminal, and the strict check of bytes from outside agreeing with the replacement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	escaped("\xc2\x9b"
		"2J \xc2\x85",
		"\\x9b2J \\x85");
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

/*
 * utf8_valid() and utf8_make_valid() are two decoders in one file: they must agree. Every string of up to 4 bytes drawn
 * from the bytes where UTF-8's rules change is valid exactly when utf8_make_valid() leaves it as it is; when it is
 * not, the offset utf8_valid() gives is where the first U+FFFD goes, everything before it kept.
 */
static void test_valid_agrees_with_make_valid(void **state)
{
	static const unsigned char edge[] = { 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
					      0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff };
	const size_t k = ELEMENTSOF(edge);
	unsigned long n_valid = 0, n_bad = 0;

	(void)state;
	for (size_t len = 1; len <= 4; len++) {
		size_t total = 1;

		for (size_t i = 0; i < len; i++)
			total *= k;
		for (size_t code = 0; code < total; code++) {
			char in[5] = "";
			size_t c = code, bad = SIZE_MAX;
			_cleanup_free_ char *out = NULL;
			bool ok;

			for (size_t i = 0; i < len; i++, c /= k)
				in[i] = (char)edge[c % k];
			ok = utf8_valid(in, len, &bad);
			out = utf8_make_valid(in);
			assert_non_null(out);
			if (ok) {
				assert_int_equal(bad, SIZE_MAX); /* untouched */
				assert_string_equal(out, in);
				n_valid++;
			} else {
				assert_true(bad < len);
				if (strcmp(out, in) == 0)
					fail_msg("utf8_valid refused %02x %02x %02x %02x (len %zu) at %zu, which "
						 "utf8_make_valid keeps",
						 edge[code % k], (unsigned char)in[1], (unsigned char)in[2],
						 (unsigned char)in[3], len, bad);
				assert_memory_equal(out, in, bad);
				assert_memory_equal(out + bad, FFFD, 3);
				n_bad++;
			}
		}
	}
	/* Both kinds came up, in numbers: the alphabet is not all one or the other. */
	assert_true(n_valid > 1000 && n_bad > 100000);
}

/* utf8_valid() reads n bytes, not up to a NUL: a NUL inside is a character, a sequence cut by n is not valid. */
static void test_valid_reads_exactly_n(void **state)
{
	size_t bad = 99;

	(void)state;
	assert_true(utf8_valid("a\0b", 3, NULL));
	assert_true(utf8_valid("\xe2\x82\xac", 3, NULL));
	assert_false(utf8_valid("\xe2\x82\xac", 2, &bad));
	assert_int_equal(bad, 0);
	assert_false(utf8_valid("ab\xf0\x9f\x98", 5, &bad));
	assert_int_equal(bad, 2);
	assert_true(utf8_valid("\xff", 0, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_well_formed_is_kept),	     cmocka_unit_test(test_ill_formed_is_replaced),
		cmocka_unit_test(test_controls_are_escaped),	     cmocka_unit_test(test_columns),
		cmocka_unit_test(test_valid_agrees_with_make_valid), cmocka_unit_test(test_valid_reads_exactly_n),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
