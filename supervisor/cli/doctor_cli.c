/* SPDX-License-Identifier: MIT */
/* `vgpuvm doctor`: runs the checks (supervisor/doctor/) and prints them for people or as JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <json-c/json.h>

#include "profiles/profile.h"
#include "supervisor/cli/ctl_cli.h"
#include "supervisor/cli/doctor_cli.h"
#include "supervisor/cli/profile_cli.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev.h"
#include "supervisor/host/mdev_holder.h"
#include "supervisor/host/runtime.h"
#include "supervisor/log.h"
#include "util/json.h"
#include "util/utf8.h"

/*
 * The user the fixes name (usermod -aG kvm USER, a limits.conf line): the one who ran sudo when root via sudo, as
 * that is whose VM it will be; else $USER.
 */
static const char *fix_user(void)
{
	const char *s = getenv("SUDO_USER"), *u = getenv("USER");

	if (geteuid() == 0 && s && *s)
		return s;
	if (u && *u)
		return u;
	u = getenv("LOGNAME");
	return u && *u ? u : "USER";
}

/*
 * The findings quote the host (sysfs attributes, /proc/cpuinfo, QEMU's output): on a terminal their control
 * characters are escaped (util/utf8.h), so that none can paint over the report or fake a line of it. A fix's own
 * lines are split first.
 */
static void print_human(const struct doctor *d)
{
	size_t count[DOCTOR_STATUS_MAX] = {};

	for (size_t i = 0; i < d->n_checks; i++) {
		const struct doctor_check *c = &d->checks[i];
		_cleanup_free_ char *summary = utf8_escape_controls(c->summary ?: "(out of memory)");

		count[c->status]++;
		printf("%s %s: %s\n", doctor_status_to_string(c->status), c->id, summary ?: "(out of memory)");
		if (c->fix) {
			const char *line = c->fix;
			for (bool first = true; *line; first = false) {
				const char *nl = strchr(line, '\n');
				size_t n = nl ? (size_t)(nl - line) : strlen(line);
				_cleanup_free_ char *raw = strndup(line, n),
						    *esc = raw ? utf8_escape_controls(raw) : NULL;

				printf("     %s%s\n", first ? "fix: " : "     ", esc ?: "(out of memory)");
				line += n + (nl ? 1 : 0);
			}
		}
	}
	printf("%zu passed, %zu warned, %zu failed, %zu skipped\n", count[DOCTOR_PASS], count[DOCTOR_WARN],
	       count[DOCTOR_FAIL], count[DOCTOR_SKIP]);
}

static json_object *json_text(const char *s)
{
	_cleanup_free_ char *v = utf8_make_valid(s);

	return json_object_new_string(v ?: "(out of memory)");
}

static void print_json(const struct doctor *d)
{
	_cleanup_json_ json_object *root = json_object_new_object();
	json_object *checks = json_object_new_array();
	size_t count[DOCTOR_STATUS_MAX] = {};

	for (size_t i = 0; i < d->n_checks; i++) {
		const struct doctor_check *c = &d->checks[i];
		json_object *o = json_object_new_object();

		count[c->status]++;
		json_object_object_add(o, "id", json_object_new_string(c->id ?: "?"));
		json_object_object_add(o, "status", json_object_new_string(doctor_status_to_string(c->status)));
		/* Valid UTF-8, as JSON must be, whatever the host's text was. */
		json_object_object_add(o, "summary", json_text(c->summary ?: "(out of memory)"));
		json_object_object_add(o, "fix", c->fix ? json_text(c->fix) : NULL);
		json_object_array_add(checks, o);
	}
	json_object_object_add(root, "checks", checks);
	json_object_object_add(root, "passed", json_object_new_int64((int64_t)count[DOCTOR_PASS]));
	json_object_object_add(root, "warned", json_object_new_int64((int64_t)count[DOCTOR_WARN]));
	json_object_object_add(root, "failed", json_object_new_int64((int64_t)count[DOCTOR_FAIL]));
	json_object_object_add(root, "skipped", json_object_new_int64((int64_t)count[DOCTOR_SKIP]));
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char doctor_usage[] =
    "Usage: vgpuvm doctor [PROFILE] [--json]\n"
    "\n"
    "Checks the host for what a vGPU VM needs, one line per check: PASS, WARN, FAIL or SKIP (does not apply), and\n"
    "for each WARN and FAIL the fix. Without PROFILE: Intel GVT-g (CPU, i915, enable_gvt, kvmgt, GuC, IOMMU), mdev,\n"
    "vfio, /dev/kvm, QEMU, render nodes, stale mdevs. With PROFILE also what it asks for: its mdev parent and type,\n"
    "instances left, the resolution, QEMU's display and device options, a GL display for a dmabuf vGPU, the memory\n"
    "lock. vgpuvm(1) lists every check under DOCTOR.\n"
    "\n"
    "Exit status: 0 when no check failed, 1 when one did, 64 bad usage, 65 bad profile, 66 profile not found.\n";

int cmd_doctor(int argc, char **argv)
{
	_cleanup_profile_ struct profile *p = NULL;
	_cleanup_free_ char *base = NULL;
	struct doctor d = {};
	bool json = false, done = false, failed = false;
	int r;

	if ((r = cli_parse_json_flag(argc, argv, doctor_usage, "at most one PROFILE", 0, 1, &json, &done)) != 0 || done)
		return r;
	if (optind < argc && (r = cli_load_profile(argv[optind], NULL, &p)) != 0)
		return r;
	/* A profile that adopts an mdev by UUID alone is checked with that mdev's type, when it exists. */
	if (p && (r = cli_adopted_type(p, false)) != 0)
		return r;
	if (runtime_base(&base) < 0)
		base = NULL;
	d = (struct doctor){
		.sys = host_sysfs_root(),
		.proc = host_proc_root(),
		.dev = host_dev_root(),
		.mdevctl_dir = host_mdevctl_dir(),
		.runtime_base = base,
		.user = fix_user(),
		.profile = p,
	};
	r = doctor_run(&d);
	if (r < 0) {
		doctor_done(&d);
		return log_error_errno(r, "Failed to read the mdev parents: %m"), EX_OSERR;
	}
	if (json)
		print_json(&d);
	else
		print_human(&d);
	for (size_t i = 0; i < d.n_checks; i++)
		failed = failed || d.checks[i].status == DOCTOR_FAIL;
	doctor_done(&d);
	if (fflush(stdout) != 0)
		return EX_IOERR;
	return failed ? 1 : 0;
}
