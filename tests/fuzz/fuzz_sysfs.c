/* SPDX-License-Identifier: MIT */
/*
 * What the kernel (or a test root) writes in an mdev type's sysfs directory: NUL-separated, the name, description,
 * available_instances and device_api attributes, then the names in devices/. Goes through mdev_type_from_attrs(), the
 * part of mdev_scan() that makes sense of the files, and the one-line summary `vgpuvm types` prints.
 */
#include <string.h>

#include "supervisor/host/mdev_scan.h"
#include "tests/fuzz/fuzz.h"
#include "util/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *block = NULL, *summary = NULL;
	char *parts[4 + 16 + 1] = {};
	struct mdev_type_info t = {};
	size_t n = fuzz_split(data, size, parts, 4 + 16, &block);
	int r;

	if (n == 0)
		return 0;
	r = mdev_type_from_attrs("fuzz-type",
				 &(struct mdev_type_attrs){ .name = parts[0],
							    .description = n > 1 ? parts[1] : NULL,
							    .available_instances = n > 2 ? parts[2] : NULL,
							    .device_api = n > 3 ? parts[3] : NULL,
							    .devices = n > 4 ? parts + 4 : NULL },
				 &t);
	fuzz_assert(r == 0);
	/* A resolution is both numbers or neither, and never 0 wide or high. */
	fuzz_assert((t.xres == 0) == (t.yres == 0));
	fuzz_assert(t.xres <= 99999 && t.yres <= 99999);
	fuzz_assert(t.available >= -1);
	for (size_t i = 0; i < t.n_mdevs; i++)
		fuzz_assert(strlen(t.mdevs[i].uuid) == 36 && !strchr(t.mdevs[i].uuid, '/'));
	for (char **f = t.fields; f && *f; f += 2)
		fuzz_assert(f[1] && **f && *f[1]);
	summary = mdev_type_summary(&t);
	mdev_type_info_done(&t);
	return 0;
}
