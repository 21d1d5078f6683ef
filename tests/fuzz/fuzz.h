/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz target shares. A target is one function, LLVMFuzzerTestOneInput(), built twice: with libFuzzer
 * (make fuzz, clang) to search for inputs, and with tests/fuzz/replay.c (make check, any compiler) to run every input
 * kept in tests/fuzz/corpus/TARGET/ again, so that what was found once stays fixed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the code under test must keep: a failure is a crash, which libFuzzer and the replay both report. */
#define fuzz_assert(expr)                                                                                              \
	do {                                                                                                           \
		if (!(expr)) {                                                                                         \
			fprintf(stderr, "%s:%d: fuzz_assert(%s) failed\n", __FILE__, __LINE__, #expr);                 \
			abort();                                                                                       \
		}                                                                                                      \
	} while (0)

/*
 * Splits data at NUL bytes into at most max NUL-terminated strings, copied into one allocation: how a target that
 * takes several strings (a profile and its --set arguments, a type's attributes) reads one input. Returns how many;
 * *ret_block is to be freed.
 */
static inline size_t fuzz_split(const uint8_t *data, size_t size, char **ret, size_t max, char **ret_block)
{
	char *b = malloc(size + 1);
	size_t n = 0, start = 0;

	*ret_block = b;
	if (!b)
		return 0;
	for (size_t i = 0; i < size; i++)
		b[i] = (char)data[i];
	b[size] = 0;
	for (size_t i = 0; i <= size && n < max; i++)
		if (b[i] == 0) {
			ret[n++] = b + start;
			start = i + 1;
		}
	return n;
}
