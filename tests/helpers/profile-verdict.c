/* SPDX-License-Identifier: MIT */
/*
 * Feeds the profile parser many profiles in one process, for the schema test (tests/schema/run.py), which compares
 * what the parser accepts with what profile.schema.json accepts, key by key and value by value.
 *
 *   profile-verdict < PROFILES     one profile a line (JSON Lines); for each, one line: "ok", or "error: MESSAGE"
 *                                  with the parser's message as a user sees it ("probe.json: FIELD: problem")
 *
 * Exit status 0, or 1 when stdin cannot be read or stdout written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "profiles/profile_parse.h"
#include "util/macro.h"

int main(void)
{
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	ssize_t n;

	while ((n = getline(&line, &size, stdin)) > 0) {
		_cleanup_profile_ struct profile *p = NULL;
		_cleanup_free_ char *error = NULL;
		int r;

		if (line[n - 1] == '\n')
			line[--n] = 0;
		r = profile_parse("probe.json", line, (size_t)n, NULL, &p, &error);
		if (r == -ENOMEM)
			return EXIT_FAILURE;
		if (r < 0) {
			/* One answer a line, whatever the message holds. */
			for (char *c = error; c && *c; c++)
				if (*c == '\n')
					*c = ' ';
			printf("error: %s\n", error ?: strerror(-r));
		} else
			puts("ok");
	}
	if (ferror(stdin) || fflush(stdout) != 0)
		return EXIT_FAILURE;
	return EXIT_SUCCESS;
}
