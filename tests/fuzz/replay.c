/* SPDX-License-Identifier: MIT */
/*
 * Runs a fuzz target over every input kept in tests/fuzz/corpus/TARGET/ (or over the files named on the command line),
 * without libFuzzer: a cmocka test for the unit layer, so that `make check` replays every crash once found and every
 * input that reached new code. Built once per target with FUZZ_TARGET defined to its name.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/fuzz/fuzz.h"

#define CORPUS "tests/fuzz/corpus/" FUZZ_TARGET

/* -v: name each input before it runs, so that the one that crashes is the last named. */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
		fclose(f);
		return -1;
	}
	rewind(f);
	/* Exactly the file's size, as libFuzzer gives it, so that a read past the input is caught under ASan. */
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void test_corpus(void **state)
{
	struct dirent **names = NULL;
	int n = scandir(CORPUS, &names, NULL, by_name), done = 0;

	(void)state;
	if (n < 0)
		fail_msg("cannot read %s (tests run from the repository root)", CORPUS);
	for (int i = 0; i < n; i++) {
		char path[512];

		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", CORPUS, names[i]->d_name);
			if (verbose)
				fprintf(stderr, "replaying %s\n", path);
			if (replay(path) < 0)
				fail_msg("cannot read %s", path);
			done++;
		}
		free(names[i]);
	}
	free(names);
	print_message("# %s: %d inputs replayed\n", FUZZ_TARGET, done);
	assert_true(done > 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};

	int first = 1;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = true;
		first = 2;
	}
	/* With files named, replays just those: how a crash found by `make fuzz` is looked at. */
	if (argc > first) {
		for (int i = first; i < argc; i++) {
			fprintf(stderr, "replaying %s\n", argv[i]);
			if (replay(argv[i]) < 0) {
				perror(argv[i]);
				return 1;
			}
		}
		return 0;
	}
	return cmocka_run_group_tests_name("fuzz_" FUZZ_TARGET, tests, NULL, NULL);
}
