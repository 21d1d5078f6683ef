/* SPDX-License-Identifier: MIT */
/*
 * The crash record, a file a crash may have cut short or someone may have planted: record_parse(), the part of
 * record_read() after the trust checks. What it accepts must be what vgpuvm could have written.
 */
#include <ctype.h>
#include <string.h>

#include "supervisor/host/record.h"
#include "tests/fuzz/fuzz.h"

static void check_name(const char *s, size_t size)
{
	fuzz_assert(memchr(s, 0, size));
	fuzz_assert(!strchr(s, '/') && strcmp(s, "..") != 0 && strcmp(s, ".") != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record rec;

	if (record_parse((const char *)data, size, &rec) < 0)
		return 0;
	check_name(rec.name, sizeof(rec.name));
	check_name(rec.type, sizeof(rec.type));
	check_name(rec.parent, sizeof(rec.parent));
	fuzz_assert(rec.supervisor_pid > 0 && rec.qemu_pid >= 0);
	if (rec.uuid[0]) {
		fuzz_assert(strlen(rec.uuid) == 36);
		for (int i = 0; i < 36; i++)
			fuzz_assert(rec.uuid[i] == '-' || isxdigit((unsigned char)rec.uuid[i]));
		fuzz_assert(rec.sysfs_root[0] == '/' && !strstr(rec.sysfs_root, "/../"));
	} else
		fuzz_assert(rec.n_owned > 0);
	fuzz_assert(rec.n_owned <= RECORD_OWNED_MAX);
	for (unsigned i = 0; i < rec.n_owned; i++) {
		fuzz_assert(rec.owned[i].path[0] == '/' && !strstr(rec.owned[i].path, "/../"));
		fuzz_assert(rec.owned[i].uid != (uid_t)-1 && rec.owned[i].gid != (gid_t)-1);
		fuzz_assert(rec.owned[i].mode <= 07777 && rec.owned[i].kind < OWNED_KIND_MAX);
	}
	return 0;
}
