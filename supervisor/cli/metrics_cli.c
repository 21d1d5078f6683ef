/* SPDX-License-Identifier: MIT */
/*
 * `vgpuvm metrics`: the host's VMs, mdev types and doctor's findings for Prometheus, cheap enough for a timer every
 * 15 s: one pass over the runtime directories (each live supervisor asked for its status at once, answered from its
 * own state without asking QEMU), one over sysfs, and doctor's host checks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <json-c/json.h>

#include "supervisor/cli/ctl_cli.h"
#include "supervisor/cli/ctl_gather.h"
#include "supervisor/cli/metrics_cli.h"
#include "supervisor/cli/metrics_render.h"
#include "supervisor/doctor/doctor.h"
#include "supervisor/host/host.h"
#include "supervisor/host/mdev_holder.h"
#include "supervisor/host/mdev_scan.h"
#include "supervisor/host/proc_status.h"
#include "supervisor/host/record.h"
#include "supervisor/host/textfile.h"
#include "supervisor/log.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/time-util.h"

/* A scrape every 15 s must not pile up behind a supervisor that hangs. */
#define GATHER_TIMEOUT (5 * USEC_PER_SEC)

static const char metrics_usage[] =
    "Usage: vgpuvm metrics [--textfile FILE.prom] [--no-doctor]\n"
    "\n"
    "Prints the host's VMs (up, state, uptime, restarts, last exit code, QEMU's RSS), mdev types (available and\n"
    "used instances) and doctor's failed and warned host checks in the Prometheus text format.\n"
    "\n"
    "  --textfile FILE.prom   write FILE.prom atomically instead (for node_exporter's textfile collector)\n"
    "  --no-doctor            leave doctor's checks out\n";

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

/* A VM from its supervisor's status. A QEMU its events say is paused counts as the state "paused". */
static void vm_from_status(json_object *st, const char *name, struct metrics_vm *ret)
{
	const char *qs = jstr(st, "qemu_status");
	int64_t pid = jint(st, "qemu_pid");
	json_object *v;
	uint64_t rss;

	*ret = (struct metrics_vm){ .name = name, .up = true, .state = jstr(st, "state") ?: "unknown", .uptime = -1 };
	if (strcmp(ret->state, "running") == 0 && qs && strcmp(qs, "paused") == 0)
		ret->state = "paused";
	if (json_object_object_get_ex(st, "uptime", &v) && json_object_is_type(v, json_type_double))
		ret->uptime = json_object_get_double(v);
	ret->restarts = jint(st, "restarts");
	/* A supervisor from before last_exit_code had no try end that it could tell of. */
	ret->last_exit_code = json_object_object_get_ex(st, "last_exit_code", &v) ? jint(st, "last_exit_code") : 0;
	ret->rss_bytes =
	    pid > 0 && pid <= INT32_MAX && proc_status_rss(host_proc_root(), (pid_t)pid, &rss) == 0 && rss <= INT64_MAX
		? (int64_t)rss
		: -1;
}

/* Whether BASE/NAME holds a crash record: a supervisor that does not answer left it. */
static bool has_record(const char *base, const char *name)
{
	_cleanup_free_ char *dir = NULL;
	struct record rec;

	return asprintf(&dir, "%s/%s", base, name) >= 0 && record_read(dir, &rec) == 0;
}

static int gather_vms(const char *base, char **names, struct metrics_vm **ret, size_t *ret_n,
		      json_object ***ret_replies)
{
	json_object **replies = NULL;
	struct metrics_vm *vms;
	size_t n = 0, k = 0;
	int r;

	while (names[n])
		n++;
	r = ctl_gather_status(base, names, n, false, deadline_after(GATHER_TIMEOUT), &replies);
	if (r < 0)
		return r;
	vms = calloc(n ? n : 1, sizeof(*vms));
	if (!vms) {
		ctl_gather_free(replies, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (replies[i])
			vm_from_status(replies[i], names[i], &vms[k++]);
		else if (has_record(base, names[i]))
			vms[k++] = (struct metrics_vm){ .name = names[i], .up = false, .uptime = -1 };
	*ret = vms;
	*ret_n = k;
	*ret_replies = replies;
	return (int)n;
}

static int gather_types(const char *base, struct mdev_host **ret_host, struct metrics_mdev_type **ret, size_t *ret_n)
{
	struct metrics_mdev_type *types;
	struct mdev_host *h = NULL;
	size_t n = 0, k = 0;
	int r = mdev_scan(host_sysfs_root(), base, &h);

	if (r < 0)
		return r;
	for (size_t i = 0; i < h->n_parents; i++)
		n += h->parents[i].n_types;
	types = calloc(n ? n : 1, sizeof(*types));
	if (!types) {
		mdev_host_free(h);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->n_parents; i++)
		for (size_t j = 0; j < h->parents[i].n_types; j++) {
			const struct mdev_type_info *t = &h->parents[i].types[j];

			types[k++] = (struct metrics_mdev_type){ .parent = h->parents[i].name,
								 .type = t->id,
								 .available = t->available,
								 .used = t->n_mdevs };
		}
	*ret_host = h;
	*ret = types;
	*ret_n = k;
	return 0;
}

static int gather_checks(const char *base, struct doctor *d, struct metrics_check **ret)
{
	struct metrics_check *c;
	int r;

	*d = (struct doctor){
		.sys = host_sysfs_root(),
		.proc = host_proc_root(),
		.dev = host_dev_root(),
		.mdevctl_dir = host_mdevctl_dir(),
		.runtime_base = base,
		.user = "USER",
	};
	if ((r = doctor_run(d)) < 0)
		return r;
	c = calloc(d->n_checks ? d->n_checks : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_checks; i++)
		c[i] = (struct metrics_check){ .id = d->checks[i].id ?: "?",
					       .failed = d->checks[i].status == DOCTOR_FAIL,
					       .warned = d->checks[i].status == DOCTOR_WARN };
	*ret = c;
	return 0;
}

int cmd_metrics(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "textfile", required_argument, NULL, 't' },
		{ "no-doctor", no_argument, NULL, 'n' },
		{},
	};
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *base = NULL, *text = NULL, *error = NULL;
	_cleanup_free_ struct metrics_vm *vms = NULL;
	_cleanup_free_ struct metrics_mdev_type *types = NULL;
	_cleanup_free_ struct metrics_check *checks = NULL;
	_cleanup_mdev_host_ struct mdev_host *host = NULL;
	json_object **replies = NULL;
	const char *textfile = NULL;
	struct doctor d = {};
	struct metrics m = {};
	struct timespec ts;
	bool doctor = true;
	size_t n_vms = 0, n_types = 0;
	int c, r, n_names;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ht:n", options, NULL)) >= 0)
		switch (c) {
		case 'h':
			fputs(metrics_usage, stdout);
			return 0;
		case 't':
			textfile = optarg;
			break;
		case 'n':
			doctor = false;
			break;
		default:
			return log_error("vgpuvm metrics: unknown option '%s'; see 'vgpuvm metrics --help'",
					 argv[optind - 1]),
			       EX_USAGE;
		}
	if (optind != argc)
		return log_error("vgpuvm metrics: expected no arguments; see 'vgpuvm metrics --help'"), EX_USAGE;
	/* node_exporter's textfile collector reads *.prom files only: another name would be written for no one. */
	if (textfile && (strlen(textfile) < 6 || strcmp(textfile + strlen(textfile) - 5, ".prom") != 0))
		return log_error("vgpuvm metrics: --textfile %s: the name must end in .prom, the files node_exporter's "
				 "textfile collector reads",
				 textfile),
		       EX_USAGE;
	if ((r = cli_base_dir(&base)) != 0)
		return r;
	if (!(names = cli_vm_names(base)))
		return EX_OSERR;
	n_names = gather_vms(base, names, &vms, &n_vms, &replies);
	if (n_names < 0)
		return log_error_errno(n_names, "Failed to ask the supervisors: %m"), EX_OSERR;
	r = gather_types(base, &host, &types, &n_types);
	if (r < 0) {
		ctl_gather_free(replies, (size_t)n_names);
		return log_error_errno(r, "Failed to read the mdev parents: %m"), EX_OSERR;
	}
	if (doctor && (r = gather_checks(base, &d, &checks)) < 0) {
		doctor_done(&d);
		ctl_gather_free(replies, (size_t)n_names);
		return log_error_errno(r, "Failed to run doctor's checks: %m"), EX_OSERR;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	m = (struct metrics){ .vms = vms,
			      .n_vms = n_vms,
			      .types = types,
			      .n_types = n_types,
			      .doctor = doctor,
			      .checks = checks,
			      .n_checks = doctor ? d.n_checks : 0,
			      .timestamp = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 };
	r = metrics_render(&m, &text);
	/* The VMs' strings point into the replies, the checks' into d: both go only once the text is made. */
	ctl_gather_free(replies, (size_t)n_names);
	doctor_done(&d);
	if (r < 0)
		return log_error("out of memory"), EX_OSERR;
	if (!textfile)
		return fputs(text, stdout) < 0 || fflush(stdout) != 0 ? EX_IOERR : 0;
	r = textfile_write(textfile, text, strlen(text), &error);
	if (r == -EPERM)
		return log_error("%s", error ?: strerror(-r)), EX_NOPERM;
	if (r < 0)
		return log_error("Failed to write %s: %s", textfile, error ?: strerror(-r)), EX_CANTCREAT;
	return 0;
}
