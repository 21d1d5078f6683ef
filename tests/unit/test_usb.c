/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the USB devices beyond what the golden files show: ids and ports as the profile and the usb command
 * take them, the files QEMU gets (and where the fds of what comes after them move), the control socket's usb
 * arguments, and finding devices in a fake sysfs tree (root hubs and interfaces left out, missing and ambiguous ones
 * named, a device's strings made printable).
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

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_parse.h"
#include "profiles/profile_usb.h"
#include "supervisor/host/usb.h"
#include "supervisor/vm/control_args.h"
#include "util/json.h"
#include "util/macro.h"

static struct profile *parse(const char *json)
{
	_cleanup_free_ char *error = NULL;
	struct profile *p = NULL;

	if (profile_parse("t.json", json, strlen(json), NULL, &p, &error) < 0)
		fail_msg("parse failed: %s", error ?: "?");
	return p;
}

static void test_ids_and_ports(void **state)
{
	uint16_t v = 0, p = 0;

	(void)state;
	assert_int_equal(profile_usb_parse_id("046D:c52b", &v, &p), 0);
	assert_int_equal(v, 0x046d);
	assert_int_equal(p, 0xc52b);
	for (const char *const *s = (const char *const[]){ "46d:c52b", "046d:c52", "046dc52b", "046d:c52bb",
							   "g46d:c52b", "046d:-52b", " 46d:c52b", "", NULL };
	     *s; s++)
		assert_int_equal(profile_usb_parse_id(*s, &v, &p), -EINVAL);

	assert_true(profile_usb_port_valid("1-2"));
	assert_true(profile_usb_port_valid("3-1.4"));
	assert_true(profile_usb_port_valid("255-255.1.1.1.1.1.1"));
	for (const char *const *s =
		 (const char *const[]){ "usb1", "1-2:1.0", "1-", "-2", "0-1", "1-0", "1-02", "256-1", "1-1.", "1-1..2",
					"1-1.1.1.1.1.1.1.1", "1-2 ", "1--2", "1", "", NULL };
	     *s; s++)
		assert_false(profile_usb_port_valid(*s));
}

/* Whether the argv has arg as one of its arguments. */
static bool has_arg(char **argv, const char *arg)
{
	for (; *argv; argv++)
		if (strcmp(*argv, arg) == 0)
			return true;
	return false;
}

static void test_files_and_fds(void **state)
{
	_cleanup_profile_ struct profile *p = parse(
	    "{\"name\": \"u\", \"memory\": \"1G\", \"disks\": [{\"file\": \"/d.img\", \"readonly\": true}], \"tpm\": "
	    "true, \"usb\": [{\"id\": \"046d:c52b\"}, {\"port\": \"1-2\"}]}");
	_cleanup_strv_free_ char **argv = NULL, **byp = NULL;
	struct profile_file f[PROFILE_FILES_MAX];
	size_t n = profile_files(p, f, ELEMENTSOF(f));

	(void)state;
	/* The disk's one fd, then the two nodes, read-write, each in a set of its own after the firmware's two. */
	assert_int_equal(n, 3);
	assert_int_equal(f[1].kind, PROFILE_FILE_USB);
	assert_int_equal(f[1].flags, O_RDWR);
	assert_int_equal(f[1].usb, 0);
	assert_int_equal(f[1].set, 4);
	assert_int_equal(f[2].usb, 1);
	assert_int_equal(f[2].set, 5);
	/* The TPM's socket comes after them. */
	assert_int_equal(profile_tpm_fd(p, &(struct profile_argv_opts){ .file_fd_base = PROFILE_FILE_FD_BASE }),
			 PROFILE_FILE_FD_BASE + 3);
	assert_int_equal(profile_argv(p, &(struct profile_argv_opts){ .file_fd_base = PROFILE_FILE_FD_BASE }, &argv),
			 0);
	assert_true(has_arg(argv, "fd=6,set=4,opaque=usb0"));
	assert_true(has_arg(argv, "usb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb1,hostdevice=/dev/fdset/5"));
	assert_true(has_arg(argv, "socket,id=vgpuvm-tpm,fd=8"));
	/* By path (no fds): QEMU is told which device to find. */
	assert_int_equal(profile_argv(p, NULL, &byp), 0);
	assert_true(has_arg(byp, "usb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb0,vendorid=0x046d,productid=0xc52b"));
	assert_true(has_arg(byp, "usb-host,bus=vgpuvm-xhci.0,id=vgpuvm-usb1,hostbus=1,hostport=2"));
	assert_false(has_arg(byp, "-add-fd"));
}

static void test_controller(void **state)
{
	_cleanup_profile_ struct profile *empty = parse("{\"name\": \"e\", \"memory\": \"1G\", \"usb\": []}");
	_cleanup_profile_ struct profile *none = parse("{\"name\": \"n\", \"memory\": \"1G\"}");
	_cleanup_strv_free_ char **a = NULL, **b = NULL;

	(void)state;
	/* "usb": [] has the controller for devices attached later; no "usb" and no tablet, none. */
	assert_int_equal(profile_argv(empty, NULL, &a), 0);
	assert_true(has_arg(a, "qemu-xhci,id=vgpuvm-xhci"));
	assert_int_equal(profile_argv(none, NULL, &b), 0);
	assert_false(has_arg(b, "qemu-xhci,id=vgpuvm-xhci"));
}

static void test_control_args(void **state)
{
	bool attach = false;
	const char *device = NULL, *serial = NULL, *why = NULL;

	(void)state;
	{
		_cleanup_json_ json_object *a =
		    json_tokener_parse("{\"action\": \"attach\", \"device\": \"1-2\", \"serial\": \"X\"}");

		assert_int_equal(control_usb_args(a, &attach, &device, &serial, &why), 0);
		assert_true(attach);
		assert_string_equal(device, "1-2");
		assert_string_equal(serial, "X");
	}
	{
		_cleanup_json_ json_object *a =
		    json_tokener_parse("{\"action\": \"detach\", \"device\": \"046d:c52b\"}");

		assert_int_equal(control_usb_args(a, &attach, &device, &serial, &why), 0);
		assert_false(attach);
		assert_null(serial);
	}
	for (const char *const *s =
		 (const char *const[]){ "{}", "{\"action\": \"attach\"}", "{\"action\": \"plug\", \"device\": \"1-2\"}",
					"{\"action\": 1, \"device\": \"1-2\"}",
					"{\"action\": \"attach\", \"device\": 5}",
					"{\"action\": \"attach\", \"device\": \"\"}",
					"{\"action\": \"attach\", \"device\": \"1-2\\u0000x\"}",
					"{\"action\": \"attach\", \"device\": \"1-2\", \"serial\": []}", NULL };
	     *s; s++) {
		_cleanup_json_ json_object *a = json_tokener_parse(*s);

		assert_non_null(a);
		why = NULL;
		assert_int_equal(control_usb_args(a, &attach, &device, &serial, &why), -EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(control_usb_args(NULL, &attach, &device, &serial, &why), -EINVAL);
}

static void put(const char *root, const char *port, const char *attr, const char *value)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bus/usb/devices/%s", root, port);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/usb/devices/%s/%s", root, port, attr);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", value);
	fclose(f);
}

static void dev(const char *root, const char *port, const char *vendor, const char *product, const char *bus,
		const char *devnum, const char *name)
{
	put(root, port, "idVendor", vendor);
	put(root, port, "idProduct", product);
	put(root, port, "busnum", bus);
	put(root, port, "devnum", devnum);
	if (name)
		put(root, port, "product", name);
}

static void test_scan_find(void **state)
{
	char root[] = "/tmp/vgpuvm-usb-unit.XXXXXX", path[512], cmd[600];
	_cleanup_free_ struct usb_dev *devs = NULL;
	_cleanup_free_ char *error = NULL, *list = NULL;
	struct profile_usb want = {};
	size_t n = 0, k = 99;

	(void)state;
	assert_non_null(mkdtemp(root));
	/* No bus/usb at all: no devices, not an error. */
	assert_int_equal(usb_scan(root, &devs, &n), 0);
	assert_int_equal(n, 0);
	devs = mfree(devs);
	snprintf(path, sizeof(path), "%s/bus/usb/devices", root);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/1-1:1.0", path);
	assert_int_equal(system(cmd), 0);
	dev(root, "usb1", "1d6b", "0002", "1", "1", "root hub");
	dev(root, "1-10", "0781", "5581", "1", "5", "Ultra");
	dev(root, "1-2", "0781", "5581", "1", "3", "Ultra\x1b[31m\xc3\xa9");
	put(root, "1-2", "serial", "S2");
	dev(root, "1-1", "046d", "c52b", "1", "2", NULL);
	/* A device whose numbers are not numbers is left out, not believed. */
	dev(root, "2-1", "046d", "c52b", "x", "2", NULL);
	/* Nor one whose address no USB device has (1-127): its node would be another bus's. */
	dev(root, "2-2", "046d", "c52b", "2", "128", NULL);

	assert_int_equal(usb_scan(root, &devs, &n), 0);
	assert_int_equal(n, 3);
	/* In port order, as a person reads them: 1-1, 1-2, 1-10. */
	assert_string_equal(devs[0].port, "1-1");
	assert_string_equal(devs[1].port, "1-2");
	assert_string_equal(devs[2].port, "1-10");
	assert_string_equal(devs[1].id, "0781:5581");
	assert_string_equal(devs[1].serial, "S2");
	assert_string_equal(devs[1].name, "Ultra?[31m??");
	assert_int_equal(devs[1].bus, 1);
	assert_int_equal(devs[1].dev, 3);

	want.port = "1-10";
	assert_int_equal(usb_find(devs, n, &want, &k, NULL), 0);
	assert_int_equal(k, 2);
	want = (struct profile_usb){ .vendor = 0x0781, .product = 0x5581, .id = "0781:5581" };
	assert_int_equal(usb_find(devs, n, &want, &k, &error), -ENOTUNIQ);
	assert_non_null(strstr(error, "2 USB devices are 0781:5581"));
	error = mfree(error);
	want.serial = "S2";
	assert_int_equal(usb_find(devs, n, &want, &k, NULL), 0);
	assert_int_equal(k, 1);
	want = (struct profile_usb){ .vendor = 0x1234, .product = 0x5678, .id = "1234:5678" };
	assert_int_equal(usb_find(devs, n, &want, &k, &error), -ENOENT);
	assert_non_null(strstr(error, "  046d:c52b port 1-1\n  0781:5581 port 1-2 Ultra"));
	assert_null(strstr(error, "1d6b"));
	list = usb_list_text(devs, 0);
	assert_string_equal(list, "  (none)");

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_ports), cmocka_unit_test(test_files_and_fds),
		cmocka_unit_test(test_controller),    cmocka_unit_test(test_control_args),
		cmocka_unit_test(test_scan_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
