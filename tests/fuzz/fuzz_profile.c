/* SPDX-License-Identifier: MIT */
/*
 * A user's profile and --set arguments: the input up to its first NUL is the file, each NUL-separated string after it
 * one --set (at most 8). A profile that parses is also turned into QEMU's command line, its summary and its files.
 */
#include <string.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_parse.h"
#include "tests/fuzz/fuzz.h"
#include "util/macro.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *block = NULL, *error = NULL, *summary = NULL;
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_profile_ struct profile *p = NULL;
	char *parts[10] = {}, *sets[9] = {};
	struct profile_file files[PROFILE_FILES_MAX];
	size_t n;
	int r;

	if (size > PROFILE_FILE_MAX)
		return 0;
	n = fuzz_split(data, size, parts, 9, &block);
	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++)
		sets[i - 1] = parts[i];
	/* Not NUL-terminated at len: the parser must not look past what it was given. The text is copied to a buffer
	 * of exactly its length, so that ASan sees a read beyond it. */
	size_t len = strlen(parts[0]);
	_cleanup_free_ char *text = malloc(len ? len : 1);
	if (!text)
		return 0;
	memcpy(text, parts[0], len);

	r = profile_parse("fuzz.json", text, len, n > 1 ? sets : NULL, &p, &error);
	if (r < 0) {
		fuzz_assert(r == -EINVAL || r == -ENOMEM);
		fuzz_assert(r != -EINVAL || error);
		return 0;
	}
	fuzz_assert(p && p->name && profile_name_valid(p->name));
	fuzz_assert(p->memory >= (UINT64_C(16) << 20) && p->memory % (UINT64_C(1) << 20) == 0);
	/* As `run` calls it: a UEFI profile comes with the firmware the host's descriptors chose. */
	fuzz_assert(profile_argv(p,
				 &(struct profile_argv_opts){ .file_fd_base = PROFILE_FILE_FD_BASE,
							      .firmware_code = "/usr/share/OVMF/OVMF_CODE_4M.fd",
							      .nvram = "/var/lib/vgpuvm/vm/OVMF_VARS_4M.fd" },
				 &argv) == 0);
	/* What reaches QEMU is whole and UTF-8: no argument was cut at a NUL, none carries a malformed sequence. */
	for (char **a = argv; *a; a++)
		fuzz_assert(utf8_valid(*a, strlen(*a), NULL));
	for (char **e = p->env; *e; e++)
		fuzz_assert(utf8_valid(*e, strlen(*e), NULL) && strchr(*e, '='));
	fuzz_assert(profile_files(p, files, ELEMENTSOF(files)) <= ELEMENTSOF(files));
	summary = profile_summary(p);
	fuzz_assert(summary);
	return 0;
}
