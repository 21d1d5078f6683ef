/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the profile parser against what a fuzzer throws at it: --set on a profile that is no object (once a
 * json-c assertion, exit 134), a --set key 65,000 levels deep (once a stack overflow), strings cut at a NUL, UTF-8
 * that json-c lets through, and a profile that is not NUL-terminated (once read past its end).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "profiles/profile.h"
#include "profiles/profile_parse.h"
#include "util/macro.h"

/* Parses text with sets; returns the error message (to be freed), or NULL when it parsed. */
static char *parse(const char *text, char *const *sets)
{
	_cleanup_profile_ struct profile *p = NULL;
	char *error = NULL;
	int r = profile_parse("t.json", text, strlen(text), sets, &p, &error);

	if (r == 0)
		return NULL;
	assert_int_equal(r, -EINVAL);
	assert_non_null(error);
	return error;
}

static void expect_error(const char *text, char *const *sets, const char *want)
{
	_cleanup_free_ char *e = parse(text, sets);

	if (!e)
		fail_msg("parsed: %s", text);
	if (!strstr(e, want))
		fail_msg("for %s: \"%s\" does not say \"%s\"", text, e, want);
}

static void test_set_on_a_profile_that_is_no_object(void **state)
{
	char *sets[] = { (char *)"vgpu.xres=1", NULL };

	(void)state;
	expect_error("[1, 2]", sets, "a profile is a JSON object");
	expect_error("\"x\"", sets, "a profile is a JSON object");
	expect_error("5", sets, "a profile is a JSON object");
	expect_error("true", sets, "a profile is a JSON object");
}

static void test_set_key_depth(void **state)
{
	/* 65,000 levels: enough to overflow the stack when json-c frees the tree it would have built. */
	size_t parts = 65000;
	_cleanup_free_ char *key = malloc(parts * 2 + 3);
	char *sets[] = { key, NULL };
	char *p = key;

	(void)state;
	assert_non_null(key);
	for (size_t i = 0; i < parts; i++) {
		*p++ = 'a';
		*p++ = '.';
	}
	strcpy(p - 1, "=1");
	expect_error("{\"memory\": \"1G\"}", sets, "the key has too many parts");
	sets[0] = (char *)"a.b.c.d.e.f.g.h=1";
	expect_error("{\"memory\": \"1G\"}", sets, "a: unknown key");
}

static void test_strings_whole_and_utf8(void **state)
{
	char *nul_set[] = { (char *)"extra_args=[\"-device\\u0000,evil\"]", NULL };
	char *overlong_set[] = { (char *)"cdrom=/srv/\xc0\xaf", NULL };
	char *surrogate_set[] = { (char *)"env={\"A\": \"\xed\xa0\x80\"}", NULL };
	char *good_set[] = { (char *)"cdrom=/srv/caf\xc3\xa9 \xf0\x9f\x98\x80.iso", NULL };
	const char *base = "{\"memory\": \"1G\", \"accel\": \"tcg\"";
	char text[256];

	(void)state;
	/* A \u0000 anywhere in a string, key or value: json-c would cut the string there without a word. */
	snprintf(text, sizeof(text), "%s, \"extra_args\": [\"-device\\u0000,evil\"]}", base);
	expect_error(text, NULL, "line 1, column 57: invalid JSON: a \\u0000 (NUL) in a string");
	snprintf(text, sizeof(text), "%s, \"env\": {\"A\": \"b\\u0000c\"}}", base);
	expect_error(text, NULL, "invalid JSON: a \\u0000 (NUL) in a string");
	snprintf(text, sizeof(text), "%s, \"env\": {\"LD_PRELOAD\\u0000x\": \"evil\"}}", base);
	expect_error(text, NULL, "invalid JSON: a \\u0000 (NUL) in a string");
	snprintf(text, sizeof(text), "%s, \"cpu\\u0000x\": \"max\"}", base);
	expect_error(text, NULL, "invalid JSON: a \\u0000 (NUL) in a string");
	/* An escaped backslash before "u0000" is no NUL: six characters of text. */
	snprintf(text, sizeof(text), "%s, \"cdrom\": \"/srv/a\\\\u0000b\"}", base);
	assert_null(parse(text, NULL));
	snprintf(text, sizeof(text), "%s, \"cdrom\": \"/srv/\xe0\x80\xaf\"}", base);
	expect_error(text, NULL, "cdrom: must be UTF-8 text");
	snprintf(text, sizeof(text), "%s, \"extra_args\": [\"\xed\xbf\xbf\"]}", base);
	expect_error(text, NULL, "extra_args[0]: must be UTF-8 text");
	snprintf(text, sizeof(text), "%s, \"extra_args\": [\"\xf4\x90\x80\x80\"]}", base);
	expect_error(text, NULL, "extra_args[0]: must be UTF-8 text");
	snprintf(text, sizeof(text), "%s}", base);
	/* Not JSON with its \u0000, so the value is taken as the string it is, which is no list. */
	expect_error(text, nul_set, "extra_args: expected a list of strings");
	expect_error(text, overlong_set, "cdrom: must be UTF-8 text");
	expect_error(text, surrogate_set, "env.A: must be UTF-8 text");
	/* Real UTF-8, up to four bytes, is fine. */
	assert_null(parse(text, good_set));
}

static void test_text_not_nul_terminated(void **state)
{
	/* The profile ends in white space right at the end of a page, and the next page cannot be read: a parser that
	 * looks for a NUL past len crashes here, whatever the build. */
	static const char text[] = "{\"memory\": \"1G\", \"accel\": \"tcg\"}  \n\t\r\n";
	long page = sysconf(_SC_PAGESIZE);
	_cleanup_profile_ struct profile *p = NULL;
	char *error = NULL, *map, *at;

	(void)state;
	map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	at = map + page - (sizeof(text) - 1);
	memcpy(at, text, sizeof(text) - 1);
	assert_int_equal(profile_parse("t.json", at, sizeof(text) - 1, NULL, &p, &error), 0);
	assert_int_equal(p->memory, UINT64_C(1) << 30);
	/* The same with text after the object: still an error, found without reading past the end. */
	memcpy(map + page - 3, " x\n", 3);
	profile_free(steal_pointer(&p));
	assert_int_equal(profile_parse("t.json", at, sizeof(text) - 1, NULL, &p, &error), -EINVAL);
	assert_non_null(strstr(error, "invalid JSON"));
	free(error);
	munmap(map, (size_t)page * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_on_a_profile_that_is_no_object),
		cmocka_unit_test(test_set_key_depth),
		cmocka_unit_test(test_strings_whole_and_utf8),
		cmocka_unit_test(test_text_not_nul_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
