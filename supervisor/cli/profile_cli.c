/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "profiles/profile_argv.h"
#include "profiles/profile_check.h"
#include "supervisor/host/mdev.h"
#include "supervisor/host/profile_lookup.h"
#include "profiles/profile_parse.h"
#include "supervisor/log.h"
#include "supervisor/cli/profile_cli.h"
#include "supervisor/host/host.h"
#include "supervisor/host/qemu_probe.h"
#include "supervisor/host/trust.h"
#include "util/time-util.h"
#include "supervisor/launch/platform.h"

/*
 * The stock profiles: where `make install` puts them, and beside the binary when it runs from its build tree, so
 * that a fresh clone works without installing.
 */
static int stock_dirs(char ***ret)
{
	char exe[PATH_MAX], *dir, **l;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	l = calloc(4, sizeof(char *));
	if (!l)
		return -ENOMEM;
	l[0] = strdup(VGPUVM_STOCKDIR);
	if (n > 0) {
		exe[n] = 0;
		dir = dirname(exe);
		/* Canonical names, so that messages show the real place; a missing one is simply not searched. */
		for (size_t i = 0, k = 1; i < 2; i++) {
			_cleanup_free_ char *d = NULL;
			if (asprintf(&d, i == 0 ? "%s/profiles/stock" : "%s/../profiles/stock", dir) < 0) {
				strv_free(l);
				return -ENOMEM;
			}
			l[k] = realpath(d, NULL);
			if (l[k])
				k++;
		}
	}
	*ret = l;
	return 0;
}

int cli_load_profile(const char *name, char *const *sets, struct profile **ret)
{
	_cleanup_strv_free_ char **stock = NULL, **dirs = NULL;
	_cleanup_free_ char *path = NULL, *error = NULL;
	int r;

	if (stock_dirs(&stock) < 0 || profile_search_dirs(stock, &dirs) < 0) {
		log_error_errno(ENOMEM, "Out of memory.");
		return EX_OSERR;
	}
	r = profile_find(name, dirs, &path, &error);
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		return EX_NOINPUT;
	}
	/* Root runs only what root wrote: a profile names the binary, its environment and the files to lend. */
	r = trust_path(path, "profile", &error);
	if (r < 0 && r != -ENOENT) {
		log_error("%s", error ?: strerror(-r));
		return EX_NOPERM;
	}
	r = profile_load(path, sets, ret, &error);
	if (r == -ENOMEM) {
		log_error_errno(r, "Out of memory.");
		return EX_OSERR;
	}
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		return r == -EINVAL ? EX_DATAERR : EX_NOINPUT;
	}
	return 0;
}

struct profile_opts {
	const char *profile;
	char **sets; /* NULL-terminated */
	size_t n_sets;
};

static void profile_opts_done(struct profile_opts *o)
{
	free(o->sets);
}

/* Adds --uuid as the --set it is, so that one mechanism applies every override. */
static int push_set(struct profile_opts *o, char *s)
{
	char **v = realloc(o->sets, (o->n_sets + 2) * sizeof(char *));

	if (!v)
		return -ENOMEM;
	v[o->n_sets++] = s;
	v[o->n_sets] = NULL;
	o->sets = v;
	return 0;
}

/*
 * Parses PROFILE [--set K=V]... [--uuid U] for the commands that take a profile. Returns 0 or a sysexits code; after
 * printing the help, 0 with *ret_done set.
 */
static int parse_profile_opts(int argc, char **argv, const char *usage, bool takes_uuid, struct profile_opts *o,
			      char **uuid_buf, bool *ret_done)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "set", required_argument, NULL, 's' },
		{ "uuid", required_argument, NULL, 'u' },
		{},
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hs:u:", options, NULL)) >= 0)
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			*ret_done = true;
			return 0;
		case 's': {
			_cleanup_free_ char *error = NULL;
			if (profile_set_check(optarg, &error) < 0) {
				log_error("%s", error ?: "bad --set");
				return EX_USAGE;
			}
			if (push_set(o, optarg) < 0)
				return EX_OSERR;
			break;
		}
		case 'u':
			if (!takes_uuid) {
				log_error("vgpuvm %s: --uuid is not an option of this command; see 'vgpuvm %s --help'",
					  argv[0], argv[0]);
				return EX_USAGE;
			}
			free(*uuid_buf);
			if (asprintf(uuid_buf, "vgpu.uuid=%s", optarg) < 0)
				return EX_OSERR;
			break;
		default:
			log_error("vgpuvm %s: unknown option or missing value in '%s'; see 'vgpuvm %s --help'", argv[0],
				  argv[optind - 1], argv[0]);
			return EX_USAGE;
		}
	if (optind + 1 != argc) {
		log_error("vgpuvm %s: expected one PROFILE (a path or a name); see 'vgpuvm %s --help'", argv[0],
			  argv[0]);
		return EX_USAGE;
	}
	o->profile = argv[optind];
	/* --uuid goes last so that it wins over a --set of the same key. */
	if (*uuid_buf && push_set(o, *uuid_buf) < 0)
		return EX_OSERR;
	return 0;
}

static const char argv_usage[] =
    "Usage: vgpuvm argv PROFILE [--set KEY=VALUE]... [--uuid UUID]\n"
    "\n"
    "Prints the QEMU command line that `vgpuvm run PROFILE` starts, one argument per line, shell-quoted where\n"
    "needed. QEMU finds its QMP monitor socket at fd 3. When the profile sets environment variables, the lines\n"
    "begin with `env` and the NAME=VALUE pairs, so that the whole is one command.\n"
    "\n"
    "  --set KEY=VALUE   override a profile key, e.g. --set vgpu.xres=1920 (VALUE is JSON when it parses as JSON)\n"
    "  --uuid UUID       use this mdev UUID instead of the profile's\n"
    "\n"
    "A profile that adopts an mdev by UUID without naming its type gets the type of that mdev, if it exists. With\n"
    "\"opregion\": false, QEMU is asked its version (as nobody when root), as `run` asks it.\n";

int cli_profile_from_args(int argc, char **argv, const char *usage, bool takes_uuid, struct profile **ret,
			  bool *ret_done)
{
	_cleanup_free_ char *uuid_set = NULL;
	struct profile_opts o = {};
	int r;

	*ret_done = false;
	r = parse_profile_opts(argc, argv, usage, takes_uuid, &o, &uuid_set, ret_done);
	if (r == 0 && !*ret_done)
		r = cli_load_profile(o.profile, o.sets, ret);
	profile_opts_done(&o);
	return r;
}

int cli_adopted_type(struct profile *p, bool check)
{
	_cleanup_free_ char *type = NULL, *error = NULL;
	int r;

	if (!p->vgpu || p->vgpu->type || mdev_existing_type(host_sysfs_root(), p->vgpu->uuid, &type) < 0)
		return 0;
	if (!check) {
		/* Only the type; what it rules out is for the caller to judge. */
		free(p->vgpu->type);
		p->vgpu->type = steal_pointer(&type);
		return 0;
	}
	r = profile_set_vgpu_type(p, type, &error);
	if (r == -EINVAL)
		return log_error("%s (the type of mdev %s, which the profile adopts)", error, p->vgpu->uuid),
		       EX_DATAERR;
	if (r < 0)
		return log_error_errno(r, "Out of memory."), EX_OSERR;
	return 0;
}

unsigned cli_qemu_version(const struct profile *p, const struct qemu_probe_as *as)
{
	unsigned v = 0;
	int r;

	if (!profile_argv_wants_qemu_version(p))
		return 0;
	r = qemu_probe_version(p->qemu, as, deadline_after(QEMU_PROBE_TIMEOUT), &v);
	if (r < 0)
		log_warning_errno(
		    r, "Failed to ask %s its version, so \"opregion\": false is written out as for QEMU 10: %m",
		    p->qemu);
	return r < 0 ? 0 : v;
}

int cmd_argv(int argc, char **argv)
{
	_cleanup_profile_ struct profile *p = NULL;
	_cleanup_strv_free_ char **args = NULL;
	_cleanup_free_ char *error = NULL;
	struct profile_argv_opts opts = { .sysfs_root = host_sysfs_root(),
					  .file_fd_base = geteuid() == 0 ? PROFILE_FILE_FD_BASE : 0 };
	struct platform pl;
	bool done;
	int r;

	r = cli_profile_from_args(argc, argv, argv_usage, true, &p, &done);
	if (r != 0 || done)
		return r;
	if ((r = cli_adopted_type(p, true)) != 0)
		return r;
	/* As root, QEMU is asked as nobody: root never runs the binary a profile names. */
	opts.qemu_version =
	    cli_qemu_version(p, geteuid() == 0 ? &(struct qemu_probe_as){ .uid = 65534, .gid = 65534 } : NULL);

	/* The firmware the profile's "firmware" finds on this host, and the NVRAM in the VM's state directory. */
	platform_init(&pl, p, NULL);
	r = platform_find(&pl, &error);
	if (r < 0) {
		log_error("%s", error ?: strerror(-r));
		platform_done(&pl);
		return r == -ENOENT ? EX_UNAVAILABLE : r == -ENXIO ? EX_CONFIG : EX_OSERR;
	}
	/* The line `run` starts: as root, with the images as fds (see run.c). */
	platform_argv_opts(&pl, &opts);
	r = profile_argv(p, &opts, &args);
	platform_done(&pl);
	if (r < 0) {
		log_error_errno(r, "Failed to build the QEMU command line: %m");
		return EX_OSERR;
	}
	if (p->env[0]) {
		puts("env");
		for (char **e = p->env; *e; e++) {
			_cleanup_free_ char *q = profile_shell_quote(*e);
			puts(q ?: *e);
		}
	}
	for (char **a = args; *a; a++) {
		_cleanup_free_ char *q = profile_shell_quote(*a);
		puts(q ?: *a);
	}
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

static const char check_usage[] =
    "Usage: vgpuvm check PROFILE [--set KEY=VALUE]...\n"
    "\n"
    "Validates a profile and prints a one-line summary of the VM it describes. Exits 0 when the profile is good,\n"
    "65 when it is not (the message names the file, the field and the fix), 66 when it cannot be found or read.\n";

int cmd_check(int argc, char **argv)
{
	_cleanup_profile_ struct profile *p = NULL;
	_cleanup_free_ char *summary = NULL;
	bool done;
	int r;

	r = cli_profile_from_args(argc, argv, check_usage, false, &p, &done);
	if (r != 0 || done)
		return r;
	summary = profile_summary(p);
	if (!summary)
		return EX_OSERR;
	printf("%s: ok: %s\n", p->path, summary);
	return 0;
}
