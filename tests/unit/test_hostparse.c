/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of what the host side makes of bytes it did not write itself: the crash record (a file a crash may have
 * cut short, or someone planted) and an mdev type's sysfs attributes (from the kernel, or a test root). Each case is
 * one the fuzzers found loose: numbers that wrapped, strings that were cut short into valid ones, a 0-wide resolution.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/host/mdev_scan.h"
#include "supervisor/host/record.h"
#include "util/macro.h"

#define UUID "a297db4a-f4c2-11e6-90f6-d3b88d6c9525"
#define GOOD "\"name\":\"vm\",\"uuid\":\"" UUID "\",\"type\":\"mdpy-vga\",\"parent\":\"mdpy\",\"sysfs_root\":\"/sys\""
#define LENT(uid)                                                                                                      \
	"\"lent\":[{\"path\":\"/dev/vfio/7\",\"uid\":" uid ",\"gid\":0,\"mode\":384,\"kind\":\"vfio\",\"rdev\":1}]"

static int parse(const char *text, struct record *ret)
{
	return record_parse(text, strlen(text), ret);
}

static void test_record_accepts_what_vgpuvm_writes(void **state)
{
	char dir[] = "/tmp/vgpuvm-unit-rec-XXXXXX";
	struct record r = { .name = "vm-1",
			    .uuid = UUID,
			    .type = "i915-GVTg_V5_4",
			    .parent = "0000:00:02.0",
			    .sysfs_root = "/sys",
			    .created = true,
			    .supervisor_pid = 12,
			    .qemu_pid = 13,
			    .n_owned = 1 },
		      back;

	(void)state;
	r.owned[0] = (struct owned){
		.path = "/dev/vfio/7", .kind = OWNED_VFIO, .rdev = 7, .uid = 4294967294u, .gid = 5, .mode = 0600
	};
	assert_non_null(mkdtemp(dir));
	assert_int_equal(record_write(dir, &r), 0);
	assert_int_equal(record_read(dir, &back), 0);
	assert_string_equal(back.name, r.name);
	assert_string_equal(back.uuid, r.uuid);
	assert_string_equal(back.type, r.type);
	assert_string_equal(back.parent, r.parent);
	assert_string_equal(back.sysfs_root, r.sysfs_root);
	assert_true(back.created);
	assert_int_equal(back.supervisor_pid, 12);
	assert_int_equal(back.qemu_pid, 13);
	assert_int_equal(back.n_owned, 1);
	assert_string_equal(back.owned[0].path, "/dev/vfio/7");
	assert_int_equal(back.owned[0].uid, 4294967294u);
	assert_int_equal(back.owned[0].gid, 5);
	assert_int_equal(back.owned[0].mode, 0600);
	assert_int_equal(back.owned[0].rdev, 7);
	assert_int_equal(back.owned[0].kind, OWNED_VFIO);
	record_remove(dir);
	rmdir(dir);
	assert_int_equal(parse("{" GOOD ",\"created\":false,\"supervisor_pid\":1,\"qemu_pid\":null}", &back), 0);
	assert_int_equal(back.qemu_pid, 0);
}

static void test_record_refuses_loose_values(void **state)
{
	static const char *const bad[] = {
		/* Numbers: wrapped to root, to pid 1, or not integers at all. */
		"{" GOOD ",\"created\":true,\"supervisor_pid\":1," LENT("4294967296") "}",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":1," LENT("-1") "}",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":1," LENT("0.5") "}",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":4294967297}",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":1,\"qemu_pid\":4294967297}",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":NaN}",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":\"12\"}",
		"{" GOOD ",\"created\":\"no\",\"supervisor_pid\":1}",
		"{" GOOD ",\"created\":1,\"supervisor_pid\":1}",
		/* Strings: too long to keep (once cut short to a valid uuid), with a NUL, walking a path. */
		"{\"name\":\"vm\",\"uuid\":\"" UUID
		"/../x\",\"sysfs_root\":\"/sys\",\"created\":true,\"supervisor_pid\":1}",
		"{\"name\":\"vm\",\"uuid\":\"" UUID
		"0\",\"sysfs_root\":\"/sys\",\"created\":true,\"supervisor_pid\":1}",
		"{\"name\":\"vm\",\"uuid\":\"../../../../../../../../../../../../..\",\"sysfs_root\":\"/"
		"sys\",\"created\":true,"
		"\"supervisor_pid\":1}",
		"{\"name\":\"vm\",\"uuid\":\"" UUID
		"\",\"sysfs_root\":\"/tmp/../sys\",\"created\":true,\"supervisor_pid\":1}",
		"{\"name\":\"vm\",\"uuid\":\"" UUID "\",\"sysfs_root\":\"sys\",\"created\":true,\"supervisor_pid\":1}",
		"{\"name\":\"v\\u0000m\",\"uuid\":\"" UUID
		"\",\"sysfs_root\":\"/sys\",\"created\":true,\"supervisor_pid\":1}",
		"{\"name\":\"../vm\",\"uuid\":\"" UUID
		"\",\"sysfs_root\":\"/sys\",\"created\":true,\"supervisor_pid\":1}",
		"{\"name\":\"vm\",\"type\":\"..\",\"uuid\":\"" UUID "\",\"sysfs_root\":\"/sys\",\"created\":true,"
		"\"supervisor_pid\":1}",
		"{\"name\":5,\"uuid\":\"" UUID "\",\"sysfs_root\":\"/sys\",\"created\":true,\"supervisor_pid\":1}",
		/* A lent list that is not one, or names a path that walks. */
		"{" GOOD ",\"created\":true,\"supervisor_pid\":1,\"lent\":{}}",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":1,\"lent\":[1]}",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":1,\"lent\":[{\"path\":\"/dev/../etc/shadow\",\"uid\":0,"
		"\"gid\":0,\"mode\":384,\"kind\":\"vfio\",\"rdev\":1}]}",
		/* Cut short, or with something after it. */
		"{" GOOD ",\"created\":true,\"supervisor_pid\":12",
		"{" GOOD ",\"created\":true,\"supervisor_pid\":1} {}",
		"",
		"[]",
	};
	struct record back = { .supervisor_pid = 99 };

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (parse(bad[i], &back) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	/* Untouched on failure. */
	assert_int_equal(back.supervisor_pid, 99);
	/* An embedded NUL in the file itself. */
	assert_int_equal(record_parse("{}\0{}", 5, &back), -EBADMSG);
}

static void attrs(const char *description, const char *available, struct mdev_type_info *t)
{
	char *devices[] = { (char *)UUID, (char *)"not-a-uuid-but-36-characters-long!!!", (char *)"..", NULL };

	assert_int_equal(mdev_type_from_attrs("t",
					      &(struct mdev_type_attrs){ .name = "n",
									 .description = description,
									 .available_instances = available,
									 .device_api = "vfio-pci",
									 .devices = devices },
					      t),
			 0);
}

static void test_sysfs_resolution(void **state)
{
	static const struct {
		const char *description;
		unsigned x, y;
	} cases[] = {
		{ "low_gm_size: 128MB\nresolution: 1920x1200\n", 1920, 1200 },
		{ "virtual display, 1024x768 framebuffer", 1024, 768 },
		/* Not a resolution: 0 wide (once taken as one), a number too long, a size. */
		{ "resolution: 00x10", 0, 0 },
		{ "resolution: 10x00", 0, 0 },
		{ "resolution: 0640x480", 0, 0 },
		{ "resolution: 123456x10", 0, 0 },
		{ "64 MB, v1.2x3", 0, 0 },
		{ "", 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct mdev_type_info t;

		attrs(cases[i].description, "1", &t);
		if (t.xres != cases[i].x || t.yres != cases[i].y)
			fail_msg("\"%s\": %ux%u, expected %ux%u", cases[i].description, t.xres, t.yres, cases[i].x,
				 cases[i].y);
		mdev_type_info_done(&t);
	}
}

static void test_sysfs_counts_and_names(void **state)
{
	static const struct {
		const char *text;
		long long v;
	} cases[] = {
		{ "4", 4 },
		{ "0", 0 },
		{ "-1", -1 },
		{ "+4", -1 },
		{ " 4", -1 },
		{ "4x", -1 },
		{ "", -1 },
		{ "99999999999999999999", -1 },
		{ "9223372036854775807", -1 },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct mdev_type_info t;

		attrs("d", cases[i].text, &t);
		if (t.available != cases[i].v)
			fail_msg("\"%s\": %lld, expected %lld", cases[i].text, t.available, cases[i].v);
		/* Only the UUID of the three names in devices/ is an mdev. */
		assert_int_equal(t.n_mdevs, 1);
		assert_string_equal(t.mdevs[0].uuid, UUID);
		assert_int_equal(t.mdevs[0].created, -1);
		mdev_type_info_done(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_accepts_what_vgpuvm_writes),
		cmocka_unit_test(test_record_refuses_loose_values),
		cmocka_unit_test(test_sysfs_resolution),
		cmocka_unit_test(test_sysfs_counts_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
