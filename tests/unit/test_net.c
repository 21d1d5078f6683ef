/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the NICs, input, sound and boot keys beyond what the golden files show: the taps' names and the MACs
 * derived from the VM's name, the command line when QEMU opens what it needs by path (vgpuvm not root), the files
 * QEMU gets as fds and how, the status's NICs, and the crash record's taps.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_net.h"
#include "profiles/profile_parse.h"
#include "supervisor/host/record.h"
#include "util/json.h"
#include "util/macro.h"

static struct profile *parse_named(const char *path, const char *json)
{
	_cleanup_free_ char *error = NULL;
	struct profile *p = NULL;

	if (profile_parse(path, json, strlen(json), NULL, &p, &error) < 0)
		fail_msg("parse failed: %s", error ?: "?");
	return p;
}

/* The argv as one line, arguments separated by spaces, for strstr. */
static char *argv_line(const struct profile *p, int fd_base)
{
	_cleanup_strv_free_ char **argv = NULL;
	char *s = strdup("");

	assert_int_equal(profile_argv(p, &(struct profile_argv_opts){ .file_fd_base = fd_base }, &argv), 0);
	for (char **a = argv; *a; a++) {
		char *t;

		assert_true(asprintf(&t, "%s%s ", s, *a) > 0);
		free(s);
		s = t;
	}
	return s;
}

static void test_tap_names(void **state)
{
	char buf[PROFILE_IFNAME_MAX + 1], other[PROFILE_IFNAME_MAX + 1];

	(void)state;
	profile_net_tap_name("win10", 0, buf);
	assert_string_equal(buf, "win10-t0");
	profile_net_tap_name("win10", 7, buf);
	assert_string_equal(buf, "win10-t7");
	/* 12 bytes and the suffix fit exactly. */
	profile_net_tap_name("abcdefghijkl", 1, buf);
	assert_string_equal(buf, "abcdefghijkl-t1");
	/* Longer: the start, a hash of the whole name, the suffix; 15 bytes, and two names alike at the start differ.
	 */
	profile_net_tap_name("vgpuvm-test-12-net", 0, buf);
	profile_net_tap_name("vgpuvm-test-13-net", 0, other);
	assert_int_equal(strlen(buf), PROFILE_IFNAME_MAX);
	assert_int_equal(strlen(other), PROFILE_IFNAME_MAX);
	assert_memory_equal(buf, "vgpuvm-", 7);
	assert_string_not_equal(buf, other);
	assert_string_equal(buf + 12, "-t0");
	assert_true(profile_ifname_valid(buf));
	/* The same name, the same tap: a pure function of the name. */
	profile_net_tap_name("vgpuvm-test-12-net", 0, other);
	assert_string_equal(buf, other);

	assert_true(profile_ifname_valid("br0"));
	assert_false(profile_ifname_valid(""));
	assert_false(profile_ifname_valid("."));
	assert_false(profile_ifname_valid(".."));
	assert_false(profile_ifname_valid("a/b"));
	assert_false(profile_ifname_valid("br0:1"));
	assert_false(profile_ifname_valid("br 0"));
	assert_false(profile_ifname_valid("br0,fd=3"));
	assert_false(profile_ifname_valid("sixteen-chars-xx"));
}

static void test_macs(void **state)
{
	_cleanup_profile_ struct profile *a = parse_named("a.json", "{\"memory\": \"1G\", \"net\": [{}, {}]}");
	_cleanup_profile_ struct profile *a2 = parse_named("a.json", "{\"memory\": \"1G\", \"net\": [{}, {}]}");
	_cleanup_profile_ struct profile *b = parse_named("b.json", "{\"memory\": \"1G\", \"net\": [{}]}");
	_cleanup_profile_ struct profile *given =
	    parse_named("c.json", "{\"memory\": \"1G\", \"net\": [{\"mac\": \"52:54:00:AB:cd:0F\"}]}");
	char mac[18];

	(void)state;
	/* Stable: the same name and index give the same MAC, on every parse (every boot). */
	assert_memory_equal(a->nics[0].mac, a2->nics[0].mac, 6);
	assert_memory_equal(a->nics[1].mac, a2->nics[1].mac, 6);
	assert_true(a->nics[0].mac_auto);
	/* Another index or another name gives another one. */
	assert_memory_not_equal(a->nics[0].mac, a->nics[1].mac, 6);
	assert_memory_not_equal(a->nics[0].mac, b->nics[0].mac, 6);
	/* Locally administered and unicast. */
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(a->nics[i].mac[0] & 0x02, 0x02);
		assert_int_equal(a->nics[i].mac[0] & 0x01, 0);
	}
	assert_false(given->nics[0].mac_auto);
	profile_net_format_mac(given->nics[0].mac, mac);
	assert_string_equal(mac, "52:54:00:ab:cd:0f");
}

/* Not root: QEMU opens the kernel and the taps itself, by their names, and gets no fd for them. */
static void test_argv_by_path(void **state)
{
	_cleanup_profile_ struct profile *p = parse_named(
	    "vm.json", "{\"memory\": \"1G\", \"net\": [{\"bridge\": \"br0\"}, {\"tap\": \"tap0\"}], "
		       "\"boot\": {\"kernel\": \"/k/vmlinuz,1\", \"initrd\": \"/k/initrd\", \"cmdline\": \"a=b,c\"}}");
	_cleanup_free_ char *line = argv_line(p, 0), *fds = argv_line(p, PROFILE_FILE_FD_BASE);

	(void)state;
	assert_non_null(strstr(line, " -kernel /k/vmlinuz,1 -initrd /k/initrd -append a=b,c "));
	assert_non_null(strstr(line, " -netdev tap,id=vgpuvm-net0,ifname=vm-t0,script=no,downscript=no "));
	assert_non_null(strstr(line, " -netdev tap,id=vgpuvm-net1,ifname=tap0,script=no,downscript=no "));
	assert_null(strstr(line, "vgpuvm-net0,fd="));
	assert_null(strstr(line, "vgpuvm-net1,fd="));
	assert_null(strstr(line, "/proc/self/fd"));
	/* Root: the same, all by fd, in profile_files() order. */
	assert_non_null(strstr(fds, " -kernel /proc/self/fd/5 -initrd /proc/self/fd/6 -append a=b,c "));
	assert_non_null(strstr(fds, " -netdev tap,id=vgpuvm-net0,fd=7 "));
	assert_non_null(strstr(fds, " -netdev tap,id=vgpuvm-net1,fd=8 "));
	assert_null(strstr(fds, "ifname="));
	assert_null(strstr(fds, "-add-fd"));
}

static void test_files(void **state)
{
	_cleanup_profile_ struct profile *p = parse_named(
	    "vm.json", "{\"memory\": \"1G\", \"cdrom\": \"/i.iso\", \"disks\": [{\"file\": \"/d.img\"}], "
		       "\"net\": [{}, {\"bridge\": \"br0\"}, {}, {\"tap\": \"t\"}], \"boot\": {\"kernel\": \"/k\"}}");
	struct profile_file f[PROFILE_FILES_MAX];
	size_t n;

	(void)state;
	n = profile_files(p, f, ELEMENTSOF(f));
	assert_int_equal(n, 6);
	assert_int_equal(f[0].kind, PROFILE_FILE_IMAGE);
	assert_string_equal(f[0].what, "cdrom");
	assert_int_equal(f[1].kind, PROFILE_FILE_IMAGE);
	assert_int_equal(f[2].kind, PROFILE_FILE_IMAGE);
	assert_int_equal(f[2].flags, O_RDWR);
	assert_int_equal(f[3].kind, PROFILE_FILE_COPY);
	assert_string_equal(f[3].what, "kernel");
	assert_string_equal(f[3].path, "/k");
	assert_int_equal(f[3].set, 0);
	/* The user NICs have none; the others theirs, with their index in "net". */
	assert_int_equal(f[4].kind, PROFILE_FILE_TAP);
	assert_int_equal(f[4].nic, 1);
	assert_string_equal(f[4].path, "vm-t1");
	assert_int_equal(f[5].kind, PROFILE_FILE_TAP);
	assert_int_equal(f[5].nic, 3);
	assert_string_equal(f[5].path, "t");
	/* A short array gets what fits, in order. */
	assert_int_equal(profile_files(p, f, 2), 2);
}

static void test_status_json(void **state)
{
	_cleanup_profile_ struct profile *p = parse_named(
	    "vm.json",
	    "{\"memory\": \"1G\", \"net\": [{\"forward\": [{\"host\": 2222, \"guest\": 22}, {\"host\": 5353, "
	    "\"guest\": 53, \"proto\": \"udp\", \"address\": \"0.0.0.0\"}]}, {\"bridge\": \"br0\", \"model\": "
	    "\"e1000e\", \"mac\": \"52:54:00:00:00:01\"}]}");
	_cleanup_profile_ struct profile *none = parse_named("vm.json", "{\"memory\": \"1G\"}");
	_cleanup_json_ json_object *a = profile_net_to_json(p), *empty = profile_net_to_json(none);
	const char *s;

	(void)state;
	s = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(s,
			       "\"forward\":[{\"proto\":\"tcp\",\"address\":\"127.0.0.1\",\"host\":2222,\"guest\":22},"
			       "{\"proto\":\"udp\",\"address\":\"0.0.0.0\",\"host\":5353,\"guest\":53}]"));
	assert_non_null(strstr(s, "{\"type\":\"bridge\",\"model\":\"e1000e\",\"mac\":\"52:54:00:00:00:01\",\"bridge\":"
				  "\"br0\",\"tap\":\"vm-t1\",\"forward\":[]}"));
	assert_non_null(strstr(s, "\"type\":\"user\",\"model\":\"virtio-net-pci\""));
	assert_string_equal(json_object_to_json_string_ext(empty, JSON_C_TO_STRING_PLAIN), "[]");
}

static void test_defaults(void **state)
{
	_cleanup_profile_ struct profile *gtk =
	    parse_named("vm.json", "{\"memory\": \"1G\", \"display\": {\"type\": \"gtk\"}}");
	_cleanup_profile_ struct profile *vnc = parse_named(
	    "vm.json", "{\"memory\": \"1G\", \"display\": {\"type\": \"vnc\", \"listen\": \"127.0.0.1:0\"}}");
	_cleanup_profile_ struct profile *set = NULL;
	_cleanup_free_ char *error = NULL;
	char *const sets[] = { "input.tablet=false", "audio=none", NULL };

	(void)state;
	assert_true(gtk->input.tablet);
	assert_false(vnc->input.tablet);
	assert_int_equal(gtk->input.keyboard, PROFILE_KEYBOARD_PS2);
	assert_int_equal(gtk->audio, PROFILE_AUDIO_OFF);
	assert_int_equal(gtk->n_nics, 0);
	assert_null(gtk->boot.kernel);
	/* --set reaches the new keys too. */
	assert_int_equal(
	    profile_parse("vm.json", "{\"memory\": \"1G\", \"display\": {\"type\": \"gtk\"}}", 44, sets, &set, &error),
	    0);
	assert_false(set->input.tablet);
	assert_int_equal(set->audio, PROFILE_AUDIO_NONE);
}

static char tmpdir[] = "/tmp/vgpuvm-net-XXXXXX";

static void test_record_taps(void **state)
{
	struct record r = { .name = "vm", .supervisor_pid = 42, .n_taps = 2, .netns = 4026531840u }, back;
	char path[512];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	r.taps[0] = (struct record_tap){ .name = "vm-t0", .ifindex = 7 };
	r.taps[1] = (struct record_tap){ .name = "vm-t1" };
	/* Taps alone make a record: they are something to undo. */
	assert_int_equal(record_write(tmpdir, &r), 0);
	assert_int_equal(record_read(tmpdir, &back), 0);
	assert_int_equal(back.n_taps, 2);
	assert_string_equal(back.taps[0].name, "vm-t0");
	assert_int_equal(back.taps[0].ifindex, 7);
	assert_string_equal(back.taps[1].name, "vm-t1");
	assert_int_equal(back.taps[1].ifindex, 0);
	assert_true(back.netns == 4026531840u);
	/* A tap's name that could be anything else is not believed. */
	snprintf(path, sizeof(path), "%s/%s", tmpdir, RECORD_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"name\": \"vm\", \"uuid\": \"\", \"created\": false, \"supervisor_pid\": 42, \"taps\": [{\"name\": "
	      "\"../eth0\", \"ifindex\": 2}], \"netns\": 1}\n",
	      f);
	fclose(f);
	assert_int_equal(record_read(tmpdir, &back), -EBADMSG);
	record_remove(tmpdir);
	rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tap_names),    cmocka_unit_test(test_macs),
		cmocka_unit_test(test_argv_by_path), cmocka_unit_test(test_files),
		cmocka_unit_test(test_status_json),  cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_record_taps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
