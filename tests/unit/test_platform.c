/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the VM's platform: "firmware" and "tpm" in a profile and on QEMU's command line, the choice among
 * firmware descriptors, the state directory (worked on from fds: links refused, the tree given to a new owner),
 * the crash record's helpers and state, and helper processes (output, exit, stop, a leftover told by its start time).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_firmware.h"
#include "profiles/profile_parse.h"
#include "supervisor/host/firmware.h"
#include "supervisor/host/record.h"
#include "supervisor/host/state.h"
#include "supervisor/launch/helper.h"
#include "supervisor/launch/spawn.h"
#include "util/macro.h"
#include "util/time-util.h"

static char tmpdir[] = "/tmp/vgpuvm-platform-XXXXXX";

static struct profile *parse(const char *json, char **ret_error)
{
	struct profile *p = NULL;

	if (profile_parse("t.json", json, strlen(json), NULL, &p, ret_error) < 0)
		return NULL;
	return p;
}

static void test_parse(void **state)
{
	_cleanup_profile_ struct profile *a = parse("{\"memory\": \"1G\"}", NULL);
	_cleanup_profile_ struct profile *b =
	    parse("{\"memory\": \"1G\", \"firmware\": \"uefi\", \"tpm\": true}", NULL);
	_cleanup_profile_ struct profile *c =
	    parse("{\"memory\": \"1G\", \"firmware\": {\"secure_boot\": true}, \"tpm\": {\"version\": \"1.2\"}}", NULL);
	_cleanup_profile_ struct profile *d = parse("{\"memory\": \"1G\", \"machine\": \"pc-q35-7.2\", \"firmware\": "
						    "{\"type\": \"uefi\", \"secure_boot\": true}}",
						    NULL);
	_cleanup_profile_ struct profile *e = parse("{\"memory\": \"1G\", \"firmware\": null, \"tpm\": false}", NULL);

	(void)state;
	assert_int_equal(a->firmware, PROFILE_FIRMWARE_BIOS);
	assert_int_equal(a->tpm, PROFILE_TPM_NONE);
	assert_int_equal(b->firmware, PROFILE_FIRMWARE_UEFI);
	assert_false(b->secure_boot);
	/* UEFI alone keeps the machine the profile has (pc by default): OVMF runs on both. */
	assert_string_equal(b->machine, "pc");
	assert_int_equal(b->tpm, PROFILE_TPM_2_0);
	/* The object form is UEFI's; Secure Boot makes the machine q35 when the profile did not name one. */
	assert_int_equal(c->firmware, PROFILE_FIRMWARE_UEFI);
	assert_true(c->secure_boot);
	assert_string_equal(c->machine, "q35");
	assert_int_equal(c->tpm, PROFILE_TPM_1_2);
	assert_string_equal(d->machine, "pc-q35-7.2");
	assert_int_equal(e->firmware, PROFILE_FIRMWARE_BIOS);
	assert_int_equal(e->tpm, PROFILE_TPM_NONE);
	assert_true(profile_machine_is_q35("q35,accel=tcg"));
	assert_true(profile_machine_is_q35("type=q35"));
	assert_false(profile_machine_is_q35("q350"));
	assert_false(profile_machine_is_q35("pc"));
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *json, *error;
	} cases[] = {
		{ "\"firmware\": 1", "firmware: expected \"bios\" or \"uefi\", got 1" },
		{ "\"firmware\": {\"type\": \"coreboot\"}", "firmware.type: expected \"bios\" or \"uefi\"" },
		{ "\"firmware\": {\"secure_boot\": \"yes\"}", "firmware.secure_boot: expected true or false" },
		{ "\"machine\": \"microvm\", \"firmware\": {\"secure_boot\": true}", "not \"microvm\"" },
		{ "\"tpm\": 2", "tpm: expected true, false or" },
		{ "\"tpm\": {\"version\": 2}", "tpm.version: expected \"2.0\" or \"1.2\", got 2" },
		{ "\"tpm\": {\"versoin\": \"2.0\"}", "tpm.versoin: unknown key; did you mean \"version\"?" },
		{ "\"version\": \"2.0\"", "did you mean \"tpm.version\"?" },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *json = NULL, *error = NULL;

		assert_true(asprintf(&json, "{\"memory\": \"1G\", %s}", cases[i].json) > 0);
		assert_null(parse(json, &error));
		assert_non_null(error);
		if (!strstr(error, cases[i].error))
			fail_msg("%s: got \"%s\", expected \"%s\" in it", cases[i].json, error, cases[i].error);
	}
}

static bool has_arg(char **argv, const char *a)
{
	for (; *argv; argv++)
		if (strcmp(*argv, a) == 0)
			return true;
	return false;
}

static void test_argv(void **state)
{
	_cleanup_profile_ struct profile *p = parse(
	    "{\"memory\": \"1G\", \"firmware\": \"uefi\", \"tpm\": true, \"disks\": [{\"file\": \"/d,1\"}]}", NULL);
	_cleanup_profile_ struct profile *bios = parse("{\"memory\": \"1G\", \"tpm\": true}", NULL);
	struct profile_argv_opts o = { .firmware_code = "/fw/CODE,1.fd",
				       .firmware_code_format = "raw",
				       .nvram = "/st/vm/nvram.fd",
				       .nvram_format = "raw" };
	_cleanup_strv_free_ char **byname = NULL, **byfd = NULL, **b = NULL;
	char **none = NULL;

	(void)state;
	/* A QEMU that opens its files itself gets the paths, commas doubled; the TPM's socket is an fd either way. */
	assert_int_equal(profile_argv(p, &o, &byname), 0);
	assert_true(has_arg(byname, "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE,,1.fd"));
	assert_true(has_arg(byname, "if=pflash,format=raw,unit=1,file=/st/vm/nvram.fd"));
	assert_true(has_arg(byname, "socket,id=vgpuvm-tpm,fd=5"));
	assert_true(has_arg(byname, "tpm-crb,tpmdev=vgpuvm-tpm"));
	assert_false(has_arg(byname, "driver=cfi.pflash01,property=secure,value=on"));
	assert_int_equal(profile_tpm_fd(p, &o), PROFILE_FILE_FD_BASE);
	/* As fds: after the disk's two, the code, the NVRAM read-only and read-write, then the TPM. */
	o.file_fd_base = PROFILE_FILE_FD_BASE;
	o.smm = true;
	assert_int_equal(profile_argv(p, &o, &byfd), 0);
	assert_true(has_arg(byfd, "fd=7,set=2,opaque=firmware-ro"));
	assert_true(has_arg(byfd, "fd=8,set=3,opaque=nvram-ro"));
	assert_true(has_arg(byfd, "fd=9,set=3,opaque=nvram-rw"));
	assert_true(has_arg(byfd, "socket,id=vgpuvm-tpm,fd=10"));
	assert_int_equal(profile_tpm_fd(p, &o), 10);
	assert_true(has_arg(byfd, "pc,smm=on"));
	assert_true(has_arg(byfd, "driver=cfi.pflash01,property=secure,value=on"));
	/* SeaBIOS finds a TPM on TIS only; there is no flash at all. */
	assert_int_equal(profile_argv(bios, &(struct profile_argv_opts){}, &b), 0);
	assert_true(has_arg(b, "tpm-tis,tpmdev=vgpuvm-tpm"));
	assert_false(has_arg(b, "-drive"));
	/* UEFI without the firmware's paths cannot be put on a command line. */
	assert_int_equal(profile_argv(p, &(struct profile_argv_opts){}, &none), -EINVAL);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define DESCRIPTOR(code, vars, machines, features)                                                                     \
	"{\"interface-types\": [\"uefi\"], \"mapping\": {\"device\": \"flash\", \"executable\": {\"filename\": "       \
	"\"" code "\", \"format\": \"raw\"}, \"nvram-template\": {\"filename\": \"" vars "\", \"format\": \"raw\"}}, " \
	"\"targets\": [{\"architecture\": \"x86_64\", \"machines\": [" machines "]}], \"features\": [" features "]}"

static void test_firmware_find(void **state)
{
	char dir[512];
	struct firmware f = {};
	_cleanup_free_ char *error = NULL, *pc = firmware_machine_type("pc"), *q = firmware_machine_type("q35,smm=on"),
			    *v = firmware_machine_type("type=pc-q35-7.2");

	(void)state;
	assert_string_equal(pc, "pc-i440fx-");
	assert_string_equal(q, "pc-q35-");
	assert_string_equal(v, "pc-q35-7.2");
	/* host_firmware_dirs() reads the variable once: this test is the first to ask. */
	snprintf(dir, sizeof(dir), "%s/fw", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	setenv("VGPUVM_FIRMWARE_DIR", dir, 1);
	write_file(dir, "40-enrolled.json",
		   DESCRIPTOR("/e/CODE.ms.fd", "/e/VARS.ms.fd", "\"pc-q35-*\"",
			      "\"enrolled-keys\", \"requires-smm\", \"secure-boot\""));
	write_file(dir, "50-secure.json",
		   DESCRIPTOR("/e/CODE.secboot.fd", "/e/VARS.fd", "\"pc-q35-*\"", "\"requires-smm\", \"secure-boot\""));
	write_file(dir, "60-plain.json", DESCRIPTOR("/e/CODE.fd", "/e/VARS.fd", "\"pc-i440fx-*\", \"pc-q35-*\"", ""));
	write_file(dir, "10-aarch64.json",
		   "{\"interface-types\": [\"uefi\"], \"targets\": [{\"architecture\": \"aarch64\"}]}");
	write_file(dir, "20-broken.json", "{not json");
	write_file(dir, "README", "not a descriptor");

	/* Without Secure Boot, the plain firmware, on either machine: the ones before it have Secure Boot. */
	assert_int_equal(firmware_find("q35", false, &f, NULL), 0);
	assert_string_equal(f.code, "/e/CODE.fd");
	assert_false(f.smm);
	assert_non_null(strstr(f.descriptor, "/60-plain.json"));
	firmware_done(&f);
	assert_int_equal(firmware_find("pc", false, &f, NULL), 0);
	assert_string_equal(f.code, "/e/CODE.fd");
	firmware_done(&f);
	/* With it, the one with enrolled keys, and SMM. */
	assert_int_equal(firmware_find("q35", true, &f, NULL), 0);
	assert_string_equal(f.code, "/e/CODE.ms.fd");
	assert_string_equal(f.nvram_template, "/e/VARS.ms.fd");
	assert_true(f.smm);
	assert_true(f.secure_boot);
	firmware_done(&f);
	/* Without plain firmware, a Secure Boot capable one with no keys enrolled does on q35, and not on pc. */
	write_file(dir, "60-plain.json", "");
	assert_int_equal(firmware_find("q35", false, &f, NULL), 0);
	assert_string_equal(f.code, "/e/CODE.secboot.fd");
	assert_true(f.smm);
	assert_false(f.secure_boot);
	firmware_done(&f);
	assert_int_equal(firmware_find("pc", false, &f, &error), -ENOENT);
	assert_non_null(strstr(error, "apt-get install ovmf"));
	assert_non_null(strstr(error, "machine \"pc\""));
	/* A descriptor someone else can write is not root's to believe. */
	if (geteuid() == 0) {
		char path[600];

		snprintf(path, sizeof(path), "%s/40-enrolled.json", dir);
		assert_int_equal(chmod(path, 0666), 0);
		assert_int_equal(firmware_find("q35", true, &f, NULL), -ENOENT);
	}
}

static void test_state(void **state)
{
	char base[512], path[600], other[600];
	_cleanup_free_ char *sp = NULL, *error = NULL;
	_cleanup_close_ int dfd = -1, src = -1, fd = -1;
	uid_t prev = 0;
	struct stat st;

	(void)state;
	snprintf(base, sizeof(base), "%s/state", tmpdir);
	setenv("VGPUVM_STATE_DIR", base, 1);
	assert_int_equal(state_path("vm", &sp), 0);
	assert_string_equal(sp + strlen(tmpdir), "/state/vm");
	dfd = state_open("vm", geteuid(), getegid(), &prev, &error);
	assert_true(dfd >= 0);
	assert_int_equal(prev, geteuid());
	assert_int_equal(fstat(dfd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* The template is copied once; the copy is kept, whatever the template becomes. */
	snprintf(path, sizeof(path), "%s/template", tmpdir);
	write_file(tmpdir, "template", "vars-1");
	src = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(state_copy_in(dfd, "nvram.fd", src, geteuid(), getegid()), 1);
	assert_int_equal(state_copy_in(dfd, "nvram.fd", src, geteuid(), getegid()), 0);
	fd = state_open_file(dfd, "nvram.fd", O_RDONLY, geteuid());
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_false(state_has(dfd, ".nvram.fd.tmp"));
	/* A symlink, a file of two links, a file of another owner: none is handed out. */
	assert_int_equal(symlinkat("/etc/passwd", dfd, "link"), 0);
	assert_int_equal(state_open_file(dfd, "link", O_RDONLY, geteuid()), -EPERM);
	snprintf(other, sizeof(other), "%s/vm/nvram.fd", base);
	snprintf(path, sizeof(path), "%s/second-link", tmpdir);
	assert_int_equal(link(other, path), 0);
	assert_int_equal(state_open_file(dfd, "nvram.fd", O_RDONLY, geteuid()), -EPERM);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(state_open_file(dfd, "nvram.fd", O_RDONLY, geteuid() + 1), -EPERM);
	assert_int_equal(state_open_file(dfd, "missing", O_RDONLY, geteuid()), -ENOENT);
	/* A subdirectory, and a file replaced whole. */
	safe_close(state_subdir(dfd, "tpm", geteuid(), getegid()));
	assert_int_equal(state_write_file(dfd, "conf", "a = 1\n", geteuid(), getegid()), 0);
	assert_int_equal(state_write_file(dfd, "conf", "a = 2\n", geteuid(), getegid()), 0);

	/* As root: the whole tree goes to a new owner, the symlink itself too, and what it points at stays. */
	if (geteuid() == 0) {
		_cleanup_close_ int d2 = -1;

		d2 = state_open("vm", 4242, 4343, &prev, &error);
		assert_true(d2 >= 0);
		/* Root's own directory was not yet anyone's: nothing to tell. */
		assert_int_equal(prev, 4242);
		assert_int_equal(fstatat(d2, "tpm", &st, AT_SYMLINK_NOFOLLOW), 0);
		assert_int_equal(st.st_uid, 4242);
		assert_int_equal(fstatat(d2, "link", &st, AT_SYMLINK_NOFOLLOW), 0);
		assert_int_equal(st.st_uid, 4242);
		assert_int_equal(stat("/etc/passwd", &st), 0);
		assert_int_equal(st.st_uid, 0);
		/* A hard link planted in it stops the change of owner. */
		assert_int_equal(link(other, path), 0);
		error = mfree(error);
		assert_int_equal(state_open("vm", 4444, 4444, &prev, &error), -EPERM);
		assert_non_null(strstr(error, "has other hard links"));
		assert_int_equal(unlink(path), 0);
	}
	/* forget */
	assert_int_equal(state_remove("vm", NULL), 1);
	assert_int_equal(state_remove("vm", NULL), 0);
	assert_int_equal(access(sp, F_OK), -1);
}

static void test_record(void **state)
{
	struct record r = { .name = "vm", .supervisor_pid = 42, .n_helpers = 1, .state_uid = 61234 }, back;
	char path[600];

	(void)state;
	snprintf(r.helpers[0].name, sizeof(r.helpers[0].name), "swtpm");
	r.helpers[0].pid = 4321;
	r.helpers[0].start_time = 987654;
	snprintf(r.state_dir, sizeof(r.state_dir), "/var/lib/vgpuvm/vm");
	assert_int_equal(record_write(tmpdir, &r), 0);
	assert_int_equal(record_read(tmpdir, &back), 0);
	assert_int_equal(back.n_helpers, 1);
	assert_string_equal(back.helpers[0].name, "swtpm");
	assert_int_equal(back.helpers[0].pid, 4321);
	assert_int_equal(back.helpers[0].start_time, 987654);
	assert_string_equal(back.state_dir, "/var/lib/vgpuvm/vm");
	assert_int_equal(back.state_uid, 61234);
	/* A helper without its start time could be anyone's process: the record is not believed. */
	write_file(tmpdir, RECORD_FILE,
		   "{\"name\": \"vm\", \"created\": false, \"supervisor_pid\": 1, "
		   "\"helpers\": [{\"name\": \"swtpm\", \"pid\": 1}]}");
	assert_int_equal(record_read(tmpdir, &back), -EBADMSG);
	/* Nor one that names nothing to undo or keep. */
	write_file(tmpdir, RECORD_FILE, "{\"name\": \"vm\", \"created\": false, \"supervisor_pid\": 1}");
	assert_int_equal(record_read(tmpdir, &back), -EBADMSG);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, RECORD_FILE);
	unlink(path);
}

static void count_line(void *userdata, const struct helper *h, const char *line)
{
	int *n = userdata;

	(void)h;
	if (strncmp(line, "line ", 5) == 0)
		(*n)++;
}

static void test_helpers(void **state)
{
	char *sh_out[] = { "sh", "-c", "echo line 1; echo line 2 >&2; printf 'no newline'; exit 3", NULL };
	char *sh_sleep[] = { "sh", "-c", "exec sleep 60", NULL };
	char *sh_trap[] = { "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	_cleanup_free_ char *out = NULL, *tail = NULL;
	struct helpers hs = {};
	char how[64];
	int lines = 0;

	(void)state;
	/* One that does its job and ends: its status and its last lines, the last one without a newline. */
	assert_int_equal(helper_run("sh", &(struct spawn_helper_opts){ .path = "/bin/sh", .argv = sh_out, .envp = env },
				    deadline_after(10 * USEC_PER_SEC), &out, NULL),
			 3);
	assert_non_null(strstr(out, "  sh: line 1\n  sh: line 2\n  sh: no newline"));

	/* Ones that run: read, stopped with SIGTERM, or SIGKILL for one that ignores it. */
	assert_int_equal(helper_start(&hs, "sleeper",
				      &(struct spawn_helper_opts){
					  .path = "/bin/sh", .argv = sh_sleep, .envp = env, .no_spawn = true }),
			 0);
	assert_int_equal(helper_start(&hs, "stubborn",
				      &(struct spawn_helper_opts){ .path = "/bin/sh", .argv = sh_trap, .envp = env }),
			 0);
	assert_int_equal(helpers_confirm(&hs, NULL), 0);
	assert_int_equal(hs.n, 2);
	assert_true(hs.h[0].start_time > 0);
	/* The stubborn one ignores SIGTERM once it said so. */
	for (uint64_t until = deadline_after(10 * USEC_PER_SEC); !hs.h[1].tail[0] && now_usec() < until;) {
		struct pollfd p = { .fd = hs.h[1].out_fd, .events = POLLIN };

		poll(&p, 1, deadline_poll_ms(until));
		helper_read(&hs.h[1], NULL, NULL);
	}
	assert_int_equal(helper_reap(&hs.h[0]), 0);
	/* A leftover is told by its start time: the same pid with another is not killed. */
	assert_int_equal(helper_kill_leftover(hs.h[0].pid, hs.h[0].start_time + 1), 0);
	assert_int_equal(helpers_stop(&hs, deadline_after(USEC_PER_SEC / 2), count_line, &lines), 1);
	helper_describe_exit(&hs.h[0], how, sizeof(how));
	assert_string_equal(how, "was killed by SIGTERM");
	helper_describe_exit(&hs.h[1], how, sizeof(how));
	assert_string_equal(how, "was killed by SIGKILL");
	tail = helper_tail(&hs.h[1]);
	assert_string_equal(tail, "  stubborn: ready");
	helpers_clear(&hs);
	assert_int_equal(hs.n, 0);

	/* One that cannot be executed says so when confirmed, and is reaped then. */
	{
		_cleanup_free_ char *error = NULL;

		assert_int_equal(helper_start(&hs, "ghost",
					      &(struct spawn_helper_opts){
						  .path = "/nonexistent/ghost", .argv = sh_sleep, .envp = env }),
				 0);
		assert_int_equal(helpers_confirm(&hs, &error), -ENOENT);
		assert_string_equal(error, "cannot execute ghost: No such file or directory");
		assert_true(hs.h[0].exited);
		assert_int_equal(hs.h[0].pidfd, -1);
		helpers_clear(&hs);
	}

	/* A leftover of a dead supervisor, with its start time right, is killed. */
	assert_int_equal(helper_start(&hs, "sleeper",
				      &(struct spawn_helper_opts){ .path = "/bin/sh", .argv = sh_sleep, .envp = env }),
			 0);
	assert_int_equal(helper_kill_leftover(hs.h[0].pid, hs.h[0].start_time), 1);
	helpers_stop(&hs, deadline_after(5 * USEC_PER_SEC), NULL, NULL);
	helper_describe_exit(&hs.h[0], how, sizeof(how));
	assert_string_equal(how, "was killed by SIGKILL");
	helpers_clear(&hs);
	(void)lines;
}

static int setup_tmp(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),	cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_argv),	cmocka_unit_test(test_firmware_find),
		cmocka_unit_test(test_state),	cmocka_unit_test(test_record),
		cmocka_unit_test(test_helpers),
	};

	signal(SIGCHLD, SIG_DFL);
	return cmocka_run_group_tests_name("platform", tests, setup_tmp, remove_tmp);
}
