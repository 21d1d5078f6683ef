/* SPDX-License-Identifier: MIT */
/* Reading the unit tests' recorded data files. Include after <cmocka.h>. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#define DATA "tests/unit/data/qmp/"

/* The whole of DATA/name, NUL-terminated; fails the test when it cannot. Tests run from the repository root. */
static inline char *read_file(const char *name, size_t *ret_len)
{
	char path[256];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), DATA "%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (tests run from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}
