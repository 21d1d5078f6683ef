/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for supervisor/vm/hints.c and supervisor/host/dri.c: the hint for QEMU's "eglCreateImageKHR failed"
 * names Mesa's i965 driver only when i965_dri.so is where Mesa looks (LIBGL_DRIVERS_PATH, here a temporary directory
 * with or without the file), and says it cannot work when it is not; the display hints say what they are for.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervisor/host/dri.h"
#include "supervisor/vm/hints.h"
#include "util/macro.h"

/* What QEMU 7.2 prints when EGL refuses a dma-buf (ui/egl-helpers.c), as vgpuvm's tail of its output holds it. */
#define EGL_LINE "qemu-system-x86_64: eglCreateImageKHR failed"

struct dirs {
	char with[64], without[64];
};

static void touch(const char *dir, const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static int setup(void **state)
{
	struct dirs *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->with, sizeof(d->with), "/tmp/vgpuvm-hints-XXXXXX");
	snprintf(d->without, sizeof(d->without), "/tmp/vgpuvm-hints-XXXXXX");
	if (!mkdtemp(d->with) || !mkdtemp(d->without))
		return -1;
	/* Debian 12's set of Intel drivers, and i965 beside them in one of the two. */
	touch(d->with, "iris_dri.so");
	touch(d->with, "i965_dri.so");
	touch(d->without, "iris_dri.so");
	touch(d->without, "crocus_dri.so");
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;
	const char *names[] = { "iris_dri.so", "i965_dri.so", "crocus_dri.so" };
	char path[128];

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", d->with, names[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", d->without, names[i]);
		unlink(path);
	}
	rmdir(d->with);
	rmdir(d->without);
	free(d);
	unsetenv("LIBGL_DRIVERS_PATH");
	return 0;
}

static void test_dri_driver_find(void **state)
{
	struct dirs *d = *state;
	char path[160], *found = NULL;

	snprintf(path, sizeof(path), "relative/dir::%s:%s", d->without, d->with);
	assert_int_equal(dri_driver_find(path, "i965", &found), 0);
	assert_non_null(found);
	assert_true(strncmp(found, d->with, strlen(d->with)) == 0);
	assert_string_equal(found + strlen(d->with), "/i965_dri.so");
	free(found);
	/* The first directory that has it wins, as in Mesa's loader. */
	found = NULL;
	assert_int_equal(dri_driver_find(path, "iris", &found), 0);
	assert_string_equal(found + strlen(d->without), "/iris_dri.so");
	assert_true(strncmp(found, d->without, strlen(d->without)) == 0);
	free(found);
	assert_int_equal(dri_driver_find(d->without, "i965", NULL), -ENOENT);
	/* A directory, not a file, named like a driver does not count. */
	snprintf(path, sizeof(path), "%s/x_dri.so", d->without);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(dri_driver_find(d->without, "x", NULL), -ENOENT);
	rmdir(path);
}

static void test_egl_hint_without_i965(void **state)
{
	struct dirs *d = *state;
	const char *h;

	setenv("LIBGL_DRIVERS_PATH", d->without, 1);
	h = hint_for(EGL_LINE);
	assert_non_null(h);
	assert_non_null(strstr(h, "\"INTEL_DEBUG\": \"norbc\""));
	assert_non_null(strstr(h, "cannot work here: this host has no i965_dri.so (Mesa 22.0 removed it)"));
	assert_null(strstr(h, "\"MESA_LOADER_DRIVER_OVERRIDE\": \"i965\""));
}

static void test_egl_hint_with_i965(void **state)
{
	struct dirs *d = *state;
	const char *h;

	setenv("LIBGL_DRIVERS_PATH", d->with, 1);
	h = hint_for(EGL_LINE);
	assert_non_null(h);
	assert_non_null(strstr(h, "\"INTEL_DEBUG\": \"norbc\""));
	assert_non_null(strstr(h, "or \"MESA_LOADER_DRIVER_OVERRIDE\": \"i965\", the driver of Mesa before 22.0"));
	assert_null(strstr(h, "cannot work here"));
}

static void test_display_hints(void **state)
{
	const char *h;

	(void)state;
	/* QEMU 7.2 with gtk,gl=on under Xvfb: GL is on already, so the hint must not ask for it as the whole fix. */
	h = hint_for("qemu: The console requires display DMABUF support.");
	assert_non_null(h);
	assert_non_null(strstr(h, "EGL_EXT_image_dma_buf_import"));
	assert_non_null(strstr(h, "Xvfb"));
	/* hw/vfio/pci.c on a device without an EDID region (mdpy). */
	h = hint_for("qemu-system-x86_64: -device vfio-pci,sysfsdev=/sys/bus/mdev/devices/x,display=on,xres=800,"
		     "yres=600: vfio x: xres and yres properties need edid support");
	assert_non_null(h);
	assert_non_null(strstr(h, "remove vgpu.xres and vgpu.yres"));
	assert_null(hint_for("qemu-system-x86_64: warning: vfio x: Could not enable error recovery for the device"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dri_driver_find),
		cmocka_unit_test(test_egl_hint_without_i965),
		cmocka_unit_test(test_egl_hint_with_i965),
		cmocka_unit_test(test_display_hints),
	};

	return cmocka_run_group_tests_name("hints", tests, setup, teardown);
}
