/* SPDX-License-Identifier: MIT */
/* Unit tests for profiles/: what the parser puts in the struct, beyond what the argv golden files show. */
#include <errno.h>
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
#include "profiles/profile_check.h"
#include "supervisor/host/profile_lookup.h"
#include "profiles/profile_parse.h"
#include "util/macro.h"

static struct profile *parse_ok(const char *json, char *const *sets)
{
	_cleanup_free_ char *error = NULL;
	struct profile *p = NULL;
	int r = profile_parse("t.json", json, strlen(json), sets, &p, &error);

	if (r < 0)
		fail_msg("parse failed: %d %s", r, error ?: "");
	assert_null(error);
	return p;
}

static char *parse_err(const char *json, char *const *sets)
{
	char *error = NULL;
	struct profile *p = NULL;

	assert_int_equal(profile_parse("t.json", json, strlen(json), sets, &p, &error), -EINVAL);
	assert_null(p);
	assert_non_null(error);
	return error;
}

static void test_defaults(void **state)
{
	_cleanup_profile_ struct profile *p = parse_ok("{\"memory\": \"1G\"}", NULL);

	(void)state;
	assert_string_equal(p->name, "t");
	assert_int_equal(p->memory, UINT64_C(1) << 30);
	assert_int_equal(p->cpus, 1);
	assert_string_equal(p->machine, "pc");
	assert_int_equal(p->accel, PROFILE_ACCEL_KVM);
	assert_string_equal(p->cpu, "host");
	assert_string_equal(p->qemu, "qemu-system-x86_64");
	assert_null(p->vgpu);
	assert_int_equal(p->display.type, PROFILE_DISPLAY_NONE);
	assert_false(p->display.gl);
	assert_int_equal(p->serial, PROFILE_SERIAL_STDIO);
	assert_false(p->graphics_off);
	assert_non_null(p->env);
	assert_null(p->env[0]);
	assert_non_null(p->extra_args);
	assert_null(p->extra_args[0]);
	assert_int_equal(p->shutdown.powerdown_timeout, 60);
	assert_int_equal(p->shutdown.quit_timeout, 10);
	assert_int_equal(p->shutdown.kill_timeout, 5);
	assert_int_equal(p->start_timeout, 120);
	assert_int_equal(p->restart, PROFILE_RESTART_NO);
	assert_int_equal(p->restart_delay, 1);
	assert_null(p->group);
}

static void test_operate_keys(void **state)
{
	_cleanup_profile_ struct profile *p =
	    parse_ok("{\"memory\": \"1G\", \"restart\": \"on-failure\", \"restart_delay\": 0, \"group\": \"kvm\","
		     " \"start_timeout\": 7, \"vgpu\": {\"type\": \"x\", \"memlock\": false}}",
		     NULL);

	(void)state;
	assert_int_equal(p->restart, PROFILE_RESTART_ON_FAILURE);
	assert_string_equal(profile_restart_to_string(p->restart), "on-failure");
	assert_int_equal(p->restart_delay, 0);
	assert_string_equal(p->group, "kvm");
	assert_int_equal(p->start_timeout, 7);
	assert_false(p->vgpu->memlock);
}

static void test_vgpu_defaults(void **state)
{
	_cleanup_profile_ struct profile *p =
	    parse_ok("{\"memory\": \"1G\", \"vgpu\": {\"type\": \"i915-GVTg_V5_4\"}}", NULL);

	(void)state;
	assert_non_null(p->vgpu);
	assert_null(p->vgpu->parent);
	assert_true(p->vgpu->display);
	assert_true(p->vgpu->uuid_auto);
	assert_false(p->vgpu->ramfb || p->vgpu->opregion || p->vgpu->nohotplug);
	assert_true(p->vgpu->memlock);
	assert_int_equal(p->display.type, PROFILE_DISPLAY_GTK);
	assert_true(p->display.gl);
	assert_true(p->graphics_off);
}

/* The derived UUID depends on the name only, so the guest sees the same device on every boot and every machine. */
static void test_uuid_stable(void **state)
{
	_cleanup_profile_ struct profile *a =
	    parse_ok("{\"name\": \"win10\", \"memory\": \"1G\", \"vgpu\": {\"type\": \"x\"}}", NULL);
	_cleanup_profile_ struct profile *b = parse_ok(
	    "{\"name\": \"win10\", \"memory\": \"2G\", \"vgpu\": {\"type\": \"y\", \"uuid\": \"auto\"}}", NULL);
	_cleanup_profile_ struct profile *c =
	    parse_ok("{\"name\": \"win11\", \"memory\": \"1G\", \"vgpu\": {\"type\": \"x\"}}", NULL);

	(void)state;
	assert_string_equal(a->vgpu->uuid, b->vgpu->uuid);
	assert_string_not_equal(a->vgpu->uuid, c->vgpu->uuid);
	/* A version 5 (name-based, SHA-1) UUID of the RFC 4122 variant. */
	assert_int_equal(a->vgpu->uuid[14], '5');
	assert_non_null(strchr("89ab", a->vgpu->uuid[19]));
	/* Pinned: changing the namespace would give every existing VM a new device. */
	assert_string_equal(a->vgpu->uuid, "c3d32d67-ff1e-5ac2-ae96-4ed978a6f364");
}

static void test_shutdown_and_disks(void **state)
{
	_cleanup_profile_ struct profile *p =
	    parse_ok("{\"memory\": 64, \"shutdown\": {\"powerdown_timeout\": 0, \"kill_timeout\": 2},"
		     " \"disks\": [{\"file\": \"a.QCOW2\"}, {\"file\": \"b.img\", \"format\": \"qcow2\", "
		     "\"interface\": \"ide\"}],"
		     " \"env\": {\"A\": \"1\", \"B_2\": \"x=y\"}, \"extra_args\": [\"-usb\"]}",
		     NULL);

	(void)state;
	assert_int_equal(p->memory, UINT64_C(64) << 20);
	assert_int_equal(p->shutdown.powerdown_timeout, 0);
	assert_int_equal(p->shutdown.quit_timeout, 10);
	assert_int_equal(p->shutdown.kill_timeout, 2);
	assert_int_equal(p->n_disks, 2);
	assert_string_equal(p->disks[0].format, "qcow2");
	assert_int_equal(p->disks[0].interface, PROFILE_DISK_VIRTIO);
	assert_string_equal(p->disks[1].format, "qcow2");
	assert_int_equal(p->disks[1].interface, PROFILE_DISK_IDE);
	assert_string_equal(p->env[0], "A=1");
	assert_string_equal(p->env[1], "B_2=x=y");
	assert_null(p->env[2]);
	assert_string_equal(p->extra_args[0], "-usb");
}

static void test_sets(void **state)
{
	char *sets[] = { "memory=4G", "vgpu.type=mdpy-vga", "vgpu.display=false", "name=\"123\"", "cpus=3", NULL };
	_cleanup_profile_ struct profile *p = parse_ok("{\"memory\": \"1G\"}", sets);
	char *sets2[] = { "vgpu=null", NULL };
	_cleanup_profile_ struct profile *q = parse_ok("{\"memory\": \"1G\", \"vgpu\": {\"type\": \"x\"}}", sets2);

	(void)state;
	assert_int_equal(p->memory, UINT64_C(4) << 30);
	assert_string_equal(p->vgpu->type, "mdpy-vga");
	assert_false(p->vgpu->display);
	assert_string_equal(p->name, "123");
	assert_int_equal(p->cpus, 3);
	assert_null(q->vgpu);
}

static void test_errors(void **state)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "{\"memory\": \"1G\", \"vgpu\": {\"type\": \"x\", \"xres\": \"abc\"}}",
		  "t.json: vgpu.xres: expected a positive integer, got \"abc\"" },
		{ "{\"memroy\": \"1G\"}", "t.json: memroy: unknown key; did you mean \"memory\"?" },
		{ "{\"memory\": \"1G\", \"display\": {\"type\": \"vnc\"}}",
		  "t.json: display.listen: missing; a \"vnc\" display needs an address, e.g. \"127.0.0.1:0\"" },
		{ "{\"memory\": \"1G\", \"ramfb\": true}", "t.json: ramfb: unknown key; did you mean \"vgpu.ramfb\"?" },
		{ "{\"memory\": \"17T\"}", "t.json: memory: 17T is more than 16T" },
		{ "{\"memory\": \"99999999999999999999999G\"}",
		  "t.json: memory: 99999999999999999999999G is more than 16T" },
		{ "{\"memory\": \"1G\", \"vgpu\": {\"type\": \"x\", \"display\": false, \"xres\": 800, \"yres\": 600}}",
		  "t.json: vgpu.xres: sets the resolution of the vGPU display, which \"display\": false turns off" },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *e = parse_err(cases[i].json, NULL);
		assert_string_equal(e, cases[i].msg);
	}
}

static void test_set_errors(void **state)
{
	char *bad_type[] = { "vgpu.xres=abc", NULL };
	char *through[] = { "memory.x=1", NULL };
	_cleanup_free_ char *e1 = parse_err("{\"memory\": \"1G\", \"vgpu\": {\"type\": \"x\", \"yres\": 1}}", bad_type);
	_cleanup_free_ char *e2 = parse_err("{\"memory\": \"1G\"}", through);
	_cleanup_free_ char *e3 = NULL;

	(void)state;
	assert_string_equal(e1, "t.json: vgpu.xres: expected a positive integer, got \"abc\" (set with --set)");
	assert_string_equal(e2, "t.json: --set memory.x=1: memory is not an object in the profile");
	assert_int_equal(profile_set_check("noequals", &e3), -EINVAL);
	assert_string_equal(e3, "--set noequals: expected KEY=VALUE, like vgpu.xres=1920");
	assert_int_equal(profile_set_check("a.b=", NULL), 0);
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(profile_edit_distance("memory", "memory"), 0);
	assert_int_equal(profile_edit_distance("memroy", "memory"), 1);
	assert_int_equal(profile_edit_distance("memry", "memory"), 1);
	assert_int_equal(profile_edit_distance("MEMORY", "memory"), 0);
	assert_int_equal(profile_edit_distance("", "abc"), 3);
	assert_true(profile_edit_distance("colour", "cpus") > 2);
}

static void test_shell_quote(void **state)
{
	static const char *cases[][2] = {
		{ "plain-arg,x=1:/y", "plain-arg,x=1:/y" },
		{ "two words", "'two words'" },
		{ "it's", "'it'\\''s'" },
		{ "", "''" },
		{ "$HOME", "'$HOME'" },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *q = profile_shell_quote(cases[i][0]);
		assert_string_equal(q, cases[i][1]);
	}
}

static void test_memory_format(void **state)
{
	char buf[32];

	(void)state;
	profile_format_memory(UINT64_C(1) << 30, buf, sizeof(buf));
	assert_string_equal(buf, "1G");
	profile_format_memory(UINT64_C(1536) << 20, buf, sizeof(buf));
	assert_string_equal(buf, "1536M");
}

static void test_argv_sysfs_root_and_fd(void **state)
{
	_cleanup_profile_ struct profile *p = parse_ok(
	    "{\"memory\": \"1G\", \"vgpu\": {\"type\": \"x\", \"uuid\": \"6f0d3f5e-8a1b-4c2d-9e3f-0a1b2c3d4e5f\"}}",
	    NULL);
	_cleanup_strv_free_ char **argv = NULL;
	bool dev = false, chardev = false;

	(void)state;
	assert_int_equal(
	    profile_argv(p, &(struct profile_argv_opts){ .sysfs_root = "/tmp/fake,sys", .qmp_fd = 7 }, &argv), 0);
	for (char **a = argv; *a; a++) {
		if (strcmp(*a, "vfio-pci,sysfsdev=/tmp/fake,,sys/bus/mdev/devices/"
			       "6f0d3f5e-8a1b-4c2d-9e3f-0a1b2c3d4e5f,display=on") == 0)
			dev = true;
		if (strcmp(*a, "socket,id=vgpuvm-qmp,fd=7") == 0)
			chardev = true;
	}
	assert_true(dev);
	assert_true(chardev);
}

/* The device line profile_argv() gives p with QEMU at version v (0: not known). */
static char *device_line(const struct profile *p, unsigned v)
{
	_cleanup_strv_free_ char **argv = NULL;

	assert_int_equal(profile_argv(p, &(struct profile_argv_opts){ .qemu_version = v }, &argv), 0);
	for (char **a = argv; *a; a++)
		if (strcmp(*a, "-device") == 0 && a[1])
			return strdup(a[1]);
	fail_msg("no -device in the command line");
	return NULL;
}

static bool line_has(const struct profile *p, unsigned v, const char *opt)
{
	_cleanup_free_ char *line = device_line(p, v);

	return strstr(line, opt) != NULL;
}

static void test_opregion_by_qemu_version(void **state)
{
	_cleanup_profile_ struct profile *off =
	    parse_ok("{\"memory\": \"1G\", \"vgpu\": {\"type\": \"i915-GVTg_V5_4\", \"opregion\": false}}", NULL);
	_cleanup_profile_ struct profile *unset =
	    parse_ok("{\"memory\": \"1G\", \"vgpu\": {\"type\": \"i915-GVTg_V5_4\"}}", NULL);
	_cleanup_profile_ struct profile *on =
	    parse_ok("{\"memory\": \"1G\", \"vgpu\": {\"type\": \"i915-GVTg_V5_4\", \"opregion\": true}}", NULL);
	_cleanup_profile_ struct profile *mdpy =
	    parse_ok("{\"memory\": \"1G\", \"vgpu\": {\"type\": \"mdpy-vga\", \"opregion\": false}}", NULL);

	(void)state;
	/* false is written out where QEMU's default is on (10.0 and later) or not known, and nowhere else. */
	assert_true(profile_argv_wants_qemu_version(off));
	assert_false(line_has(off, PROFILE_QEMU_VERSION(7, 2, 22), "x-igd-opregion"));
	assert_false(line_has(off, PROFILE_QEMU_VERSION(9, 2, 3), "x-igd-opregion"));
	assert_true(line_has(off, PROFILE_QEMU_VERSION(10, 0, 0), ",x-igd-opregion=off"));
	assert_true(line_has(off, PROFILE_QEMU_VERSION(10, 1, 2), ",x-igd-opregion=off"));
	assert_true(line_has(off, 0, ",x-igd-opregion=off"));
	/* Unset is QEMU's default, whatever it is; true is on everywhere. */
	assert_false(profile_argv_wants_qemu_version(unset));
	assert_false(line_has(unset, PROFILE_QEMU_VERSION(10, 0, 0), "x-igd-opregion"));
	assert_false(profile_argv_wants_qemu_version(on));
	assert_true(line_has(on, PROFILE_QEMU_VERSION(7, 2, 0), ",x-igd-opregion=on"));
	assert_true(line_has(on, PROFILE_QEMU_VERSION(10, 0, 0), ",x-igd-opregion=on"));
	/* A device without an OpRegion: false says nothing to QEMU. */
	assert_false(profile_argv_wants_qemu_version(mdpy));
	assert_false(line_has(mdpy, PROFILE_QEMU_VERSION(10, 0, 0), "x-igd-opregion"));
}

static void test_adopted_type(void **state)
{
	_cleanup_profile_ struct profile *p = parse_ok(
	    "{\"memory\": \"1G\", \"vgpu\": {\"uuid\": \"6f0d3f5e-8a1b-4c2d-9e3f-0a1b2c3d4e5f\", \"opregion\": false},"
	    " \"display\": {\"type\": \"vnc\", \"listen\": \"127.0.0.1:0\"}}",
	    NULL);
	_cleanup_profile_ struct profile *q =
	    parse_ok("{\"memory\": \"1G\", \"vgpu\": {\"uuid\": \"6f0d3f5e-8a1b-4c2d-9e3f-0a1b2c3d4e5f\"}}", NULL);
	_cleanup_free_ char *error = NULL, *e2 = NULL, *summary = NULL;

	(void)state;
	/* Without the type, the rules that need it wait; the OpRegion's false may be the iGPU's. */
	assert_null(p->vgpu->type);
	assert_true(p->vgpu->display);
	assert_true(profile_argv_wants_qemu_version(p));
	summary = profile_summary(p);
	assert_non_null(strstr(summary, "vGPU (the type of the existing mdev) on (its parent), uuid 6f0d3f5e-"));
	/* The mdev turns out to be GVT-g's: a dmabuf display on VNC is refused now, as `check` would have. */
	assert_int_equal(profile_set_vgpu_type(p, "i915-GVTg_V5_8", &error), -EINVAL);
	assert_string_equal(error,
			    "t.json: display.type: \"vnc\" has no OpenGL, and i915-GVTg_V5_8 shows its display as "
			    "dmabufs, which QEMU shows only with OpenGL (\"vfio-display-dmabuf: opengl not "
			    "available\"); use \"gtk\" with \"gl\": true, or \"egl-headless\" (with \"listen\" for VNC "
			    "beside it), or set vgpu.display to false");
	/* A region display is fine on VNC. */
	assert_int_equal(profile_set_vgpu_type(q, "mdpy-vga", &e2), 0);
	assert_null(e2);
	assert_string_equal(q->vgpu->type, "mdpy-vga");
	/* A UUID derived from the name adopts nothing: the type must be given. */
	free(error);
	error = parse_err("{\"memory\": \"1G\", \"vgpu\": {\"uuid\": \"auto\"}}", NULL);
	assert_non_null(strstr(error, "vgpu.type: missing;"));
}

static void test_display_kinds(void **state)
{
	(void)state;
	assert_int_equal(profile_vgpu_display_of("i915-GVTg_V5_4"), PROFILE_VGPU_DISPLAY_DMABUF);
	assert_int_equal(profile_vgpu_display_of("mbochs-4"), PROFILE_VGPU_DISPLAY_DMABUF);
	assert_int_equal(profile_vgpu_display_of("mdpy-vga"), PROFILE_VGPU_DISPLAY_REGION);
	assert_int_equal(profile_vgpu_display_of("nvidia-46"), PROFILE_VGPU_DISPLAY_UNKNOWN);
	assert_int_equal(profile_vgpu_display_of("mtty-2"), PROFILE_VGPU_DISPLAY_UNKNOWN);
	assert_true(profile_vgpu_type_is_igd("i915-GVTg_V4_1"));
	assert_false(profile_vgpu_type_is_igd("i915"));
	assert_false(profile_vgpu_type_is_igd("mdpy-vga"));
}

static void test_lookup(void **state)
{
	char tmpl[] = "/tmp/vgpuvm-test-XXXXXX", path[256], *dirs[4] = {};
	_cleanup_strv_free_ char **search = NULL;
	_cleanup_free_ char *found = NULL, *error = NULL, *a = NULL, *b = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(asprintf(&a, "%s/a", tmpl) > 0, 1);
	assert_int_equal(asprintf(&b, "%s/b", tmpl) > 0, 1);
	assert_int_equal(mkdir(a, 0700), 0);
	assert_int_equal(mkdir(b, 0700), 0);
	snprintf(path, sizeof(path), "%s/vm.json", b);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	dirs[0] = a;
	dirs[1] = b;
	assert_int_equal(profile_find("vm", dirs, &found, &error), 0);
	assert_string_equal(found, path);
	free(found);
	found = NULL;
	assert_int_equal(profile_find("other", dirs, &found, &error), -ENOENT);
	assert_non_null(strstr(error, "no profile named \"other\""));
	assert_non_null(strstr(error, "/a/other.json"));
	/* A path is taken as it is, found or not: the read then names it. */
	assert_int_equal(profile_find("./x.json", dirs, &found, NULL), 0);
	assert_string_equal(found, "./x.json");

	setenv("VGPUVM_PROFILE_PATH", "/p1:/p2", 1);
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	dirs[0] = "/stock";
	dirs[1] = NULL;
	assert_int_equal(profile_search_dirs(dirs, &search), 0);
	assert_string_equal(search[0], "/p1");
	assert_string_equal(search[1], "/p2");
	assert_string_equal(search[2], "/xdg/vgpuvm/profiles");
	assert_string_equal(search[3], "/etc/vgpuvm/profiles");
	assert_string_equal(search[4], "/stock");
	assert_null(search[5]);
	unlink(path);
	rmdir(a);
	rmdir(b);
	rmdir(tmpl);
}

/*
 * Whether the parser knows key_path, tried with a profile that holds only that key (and the memory every profile
 * needs) with a value of the wrong type: the parser may reject the value, but must not call the key unknown.
 */
static bool key_known(const char *key_path)
{
	_cleanup_free_ char *error = NULL, *copy = strdup(key_path);
	char json[512] = "{\"memory\": \"1G\"", close[64] = "}", *parts[8], *save = NULL;
	struct profile *p = NULL;
	size_t n = 0;

	assert_non_null(copy);
	for (char *part = strtok_r(copy, ".", &save); part && n < ELEMENTSOF(parts); part = strtok_r(NULL, ".", &save))
		parts[n++] = part;
	if (strcmp(key_path, "memory") == 0)
		json[1] = 0;
	/* Each part of the path an object, or a list of one object for "NAME[]"; the last one's value a wrong type. */
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(parts[i]), used = strlen(json);
		bool list = len > 2 && strcmp(parts[i] + len - 2, "[]") == 0;

		if (list)
			parts[i][len - 2] = 0;
		snprintf(json + used, sizeof(json) - used, "%s\"%s\": %s", i == 0 && json[1] ? ", " : "", parts[i],
			 i + 1 == n ? "[]"
			 : list	    ? "[{"
				    : "{");
		if (i + 1 < n) {
			memmove(close + (list ? 2 : 1), close, strlen(close) + 1);
			memcpy(close, list ? "}]" : "}", list ? 2 : 1);
		}
	}
	snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s", close);
	if (profile_parse("t.json", json, strlen(json), NULL, &p, &error) == 0)
		profile_free(p);
	return !(error && strstr(error, "unknown key"));
}

static int check_key_known(const char *key_path, void *userdata)
{
	size_t *n = userdata;

	if (!key_known(key_path))
		fail_msg("profile_foreach_key() lists %s, which the parser does not take", key_path);
	(*n)++;
	return 0;
}

static int collect_key(const char *key_path, void *userdata)
{
	char **all = userdata;
	char *s;

	if (asprintf(&s, "%s%s ", *all, key_path) < 0)
		return -ENOMEM;
	free(*all);
	*all = s;
	return 0;
}

static int stop_at_third(const char *key_path, void *userdata)
{
	int *n = userdata;

	(void)key_path;
	return ++*n == 3 ? -ECANCELED : 0;
}

static void test_foreach_key(void **state)
{
	_cleanup_free_ char *all = strdup(" ");
	size_t n = 0;
	int calls = 0;

	(void)state;
	assert_non_null(all);
	/* Every key listed is one the parser takes, and the list has each object's keys under its path. */
	assert_int_equal(profile_foreach_key(check_key_known, &n), 0);
	assert_true(n >= 40);
	assert_int_equal(profile_foreach_key(collect_key, &all), 0);
	for (const char *const *k = (const char *const[]){ "memory", "vgpu", "vgpu.xres", "display.gl", "disks[].file",
							   "shutdown.kill_timeout", "sandbox.spawn", NULL };
	     *k; k++) {
		_cleanup_free_ char *word = NULL;

		assert_true(asprintf(&word, " %s ", *k) > 0);
		if (!strstr(all, word))
			fail_msg("%s is not in the list:%s", *k, all);
	}
	assert_null(strstr(all, " xres "));
	/* The check itself tells a key the parser does not take, at each level. */
	assert_false(key_known("colour"));
	assert_false(key_known("vgpu.colour"));
	assert_false(key_known("disks[].colour"));
	assert_true(key_known("disks[].file"));
	assert_true(key_known("net[].forward[].host"));
	assert_false(key_known("net[].forward[].colour"));
	/* The callback's error ends the walk and is returned. */
	assert_int_equal(profile_foreach_key(stop_at_third, &calls), -ECANCELED);
	assert_int_equal(calls, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_vgpu_defaults),
		cmocka_unit_test(test_uuid_stable),
		cmocka_unit_test(test_shutdown_and_disks),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_set_errors),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_shell_quote),
		cmocka_unit_test(test_memory_format),
		cmocka_unit_test(test_argv_sysfs_root_and_fd),
		cmocka_unit_test(test_opregion_by_qemu_version),
		cmocka_unit_test(test_adopted_type),
		cmocka_unit_test(test_display_kinds),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_operate_keys),
		cmocka_unit_test(test_foreach_key),
	};

	return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
