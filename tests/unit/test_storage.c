/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of "shares" and disks[].size: what the parser takes and refuses, where QEMU finds each share's socket
 * among the fds vgpuvm passes, and the two things a root helper (virtiofsd) gets from the spawner: a bounding set of
 * only the capabilities it keeps, and its setup run in the child before they are dropped.
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

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_parse.h"
#include "supervisor/launch/helper.h"
#include "supervisor/launch/spawn.h"
#include "util/macro.h"
#include "util/time-util.h"

static struct profile *parse(const char *json, char **ret_error)
{
	struct profile *p = NULL;

	if (profile_parse("t.json", json, strlen(json), NULL, &p, ret_error) < 0)
		return NULL;
	return p;
}

static void test_shares(void **state)
{
	_cleanup_profile_ struct profile *p = parse(
	    "{\"memory\": \"1G\", \"shares\": [{\"path\": \"/srv/a\", \"tag\": \"a\"}, {\"path\": \"/srv/b\", \"tag\": "
	    "\"b-0.x_y\", \"readonly\": true}]}",
	    NULL);
	static const struct {
		const char *shares, *error;
	} bad[] = {
		{ "{}", "shares: expected a list" },
		{ "[{\"tag\": \"a\"}]", "shares[0].path: missing" },
		{ "[{\"path\": \"/a\"}]", "shares[0].tag: missing" },
		{ "[{\"path\": \"/a\", \"tag\": \"\"}]", "shares[0].tag: expected 1 to 36 characters" },
		{ "[{\"path\": \"/a\", \"tag\": \"123456789012345678901234567890123456\"}, {\"path\": \"/b\", \"tag\": "
		  "\"1234567890123456789012345678901234567\"}]",
		  "shares[1].tag: expected 1 to 36 characters" },
		{ "[{\"path\": \"/a\", \"tag\": \"a b\"}]", "shares[0].tag: expected" },
		{ "[{\"path\": \"/a\", \"tag\": \"x\"}, {\"path\": \"/b\", \"tag\": \"x\"}]",
		  "shares[1].tag: \"x\" is shares[0]'s tag already" },
		{ "[{\"path\": \"/a\", \"tag\": \"x\", \"readonly\": 1}]",
		  "shares[0].readonly: expected true or false" },
		{ "[{\"path\": \"/a\", \"tag\": \"x\", \"ro\": true}]", "shares[0].ro: unknown key" },
	};

	(void)state;
	assert_non_null(p);
	assert_int_equal(p->n_shares, 2);
	assert_string_equal(p->shares[0].path, "/srv/a");
	assert_false(p->shares[0].readonly);
	assert_string_equal(p->shares[1].tag, "b-0.x_y");
	assert_true(p->shares[1].readonly);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *json = NULL, *error = NULL;
		_cleanup_profile_ struct profile *q = NULL;

		assert_true(asprintf(&json, "{\"memory\": \"1G\", \"shares\": %s}", bad[i].shares) > 0);
		q = parse(json, &error);
		assert_null(q);
		if (!strstr(error, bad[i].error))
			fail_msg("%s: got %s, wanted %s", bad[i].shares, error, bad[i].error);
	}
}

static void test_sizes(void **state)
{
	static const struct {
		const char *size;
		uint64_t bytes; /* 0: refused */
		const char *format;
	} cases[] = {
		{ "\"20G\"", UINT64_C(20) << 30, "qcow2" },
		{ "\"1TiB\"", UINT64_C(1) << 40, "qcow2" },
		{ "\"512K\"", 512 << 10, "qcow2" },
		{ "1048576", 1048576, "qcow2" },
		{ "\"4096\"", 4096, "qcow2" },
		{ "\"64T\"", UINT64_C(64) << 40, "qcow2" },
		{ "\"65T\"", 0, NULL },
		{ "\"99999999999999999999999G\"", 0, NULL },
		{ "\"1000\"", 0, NULL },
		{ "0", 0, NULL },
		{ "-512", 0, NULL },
		{ "\"G\"", 0, NULL },
		{ "\"1X\"", 0, NULL },
		{ "1.5", 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *json = NULL, *error = NULL;
		_cleanup_profile_ struct profile *p = NULL;

		assert_true(asprintf(&json, "{\"memory\": \"1G\", \"disks\": [{\"file\": \"/d/x\", \"size\": %s}]}",
				     cases[i].size) > 0);
		p = parse(json, &error);
		if (cases[i].bytes == 0) {
			if (p || !strstr(error, "disks[0].size: "))
				fail_msg("%s: accepted, or %s", cases[i].size, error ?: "");
			continue;
		}
		if (!p)
			fail_msg("%s: %s", cases[i].size, error);
		assert_int_equal(p->disks[0].size, cases[i].bytes);
		assert_string_equal(p->disks[0].format, cases[i].format);
	}
	/* The name or "format" says raw; a known extension keeps its format; no size keeps the old default. */
	{
		_cleanup_profile_ struct profile *a = parse(
		    "{\"memory\": \"1G\", \"disks\": [{\"file\": \"/d/x.img\", \"size\": \"1G\"}, {\"file\": "
		    "\"/d/y\", \"size\": \"1G\", \"format\": \"raw\"}, {\"file\": \"/d/z.vdi\", \"size\": \"1G\"}, "
		    "{\"file\": \"/d/w\"}]}",
		    NULL);

		assert_non_null(a);
		assert_string_equal(a->disks[0].format, "raw");
		assert_string_equal(a->disks[1].format, "raw");
		assert_string_equal(a->disks[2].format, "vdi");
		assert_string_equal(a->disks[3].format, "raw");
		assert_int_equal(a->disks[3].size, 0);
	}
}

static void test_share_fds(void **state)
{
	_cleanup_profile_ struct profile *p = parse("{\"memory\": \"1G\", \"shares\": [{\"path\": \"/a\", \"tag\": "
						    "\"a\"}, {\"path\": \"/b\", \"tag\": \"b\"}]}",
						    NULL);
	_cleanup_profile_ struct profile *t = parse(
	    "{\"memory\": \"1G\", \"tpm\": true, \"disks\": [{\"file\": \"/d/x\"}], \"shares\": [{\"path\": \"/a\", "
	    "\"tag\": \"a\"}]}",
	    NULL);
	struct profile_argv_opts fds = { .file_fd_base = PROFILE_FILE_FD_BASE };

	(void)state;
	/* Nothing else passed: from the first file fd on. */
	assert_int_equal(profile_share_fd(p, NULL, 0), PROFILE_FILE_FD_BASE);
	assert_int_equal(profile_share_fd(p, NULL, 1), PROFILE_FILE_FD_BASE + 1);
	assert_int_equal(profile_share_fd(p, NULL, 2), -1);
	assert_int_equal(profile_share_fd(p, &fds, 0), PROFILE_FILE_FD_BASE);
	/* After the disk's two fds and the TPM's socket. */
	assert_int_equal(profile_tpm_fd(t, &fds), PROFILE_FILE_FD_BASE + 2);
	assert_int_equal(profile_share_fd(t, &fds, 0), PROFILE_FILE_FD_BASE + 3);
}

static void test_root_helper(void **state)
{
	char *sh[] = { "sh", "-c", "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", NULL };
	uint64_t keep = (UINT64_C(1) << 0) | (UINT64_C(1) << 21); /* CAP_CHOWN, CAP_SYS_ADMIN */
	_cleanup_free_ char *out = NULL, *error = NULL;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(
	    helper_run("caps",
		       &(struct spawn_helper_opts){ .path = "/bin/sh", .argv = sh, .envp = env, .keep_caps = keep },
		       deadline_after(10 * USEC_PER_SEC), &out, NULL),
	    0);
	/* grep runs as root with exactly these, its bounding set too: exec gave it no more. */
	assert_non_null(strstr(out, "CapEff:\t0000000000200001"));
	assert_non_null(strstr(out, "CapBnd:\t0000000000200001"));
	assert_non_null(strstr(out, "NoNewPrivs:\t1"));
	/* A setup that fails is the start's failure, named: here the share's directory is not at fd 4. */
	assert_int_equal(helper_run("caps",
				    &(struct spawn_helper_opts){ .path = "/bin/sh",
								 .argv = sh,
								 .envp = env,
								 .keep_caps = keep,
								 .setup = SPAWN_SETUP_SHARE,
								 .setup_path = "/nonexistent" },
				    deadline_after(10 * USEC_PER_SEC), NULL, &error),
			 -EBADF);
	assert_string_equal(error, "cannot set up the sandbox of caps: Bad file descriptor");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shares),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_share_fds),
		cmocka_unit_test(test_root_helper),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
