/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "profiles/profile_parse.h"
#include "supervisor/cli/state_cli.h"
#include "supervisor/host/runtime.h"
#include "supervisor/host/state.h"
#include "supervisor/log.h"
#include "util/macro.h"

static const char forget_usage[] =
    "Usage: vgpuvm forget NAME [--yes]\n"
    "\n"
    "Removes VM NAME's state directory, which `run` keeps between runs and `cleanup` never touches: its UEFI NVRAM\n"
    "(the guest's EFI variables, its boot entries) and its TPM's state (the keys the guest sealed in it, which are\n"
    "lost with it). Refuses while the VM runs. Asks first; --yes does not (and is needed without a terminal).\n"
    "Exits 0 when the state is gone (or there was none), 1 when the answer was no.\n";

/* Asks on the terminal; true for "y" or "yes". */
static bool confirm(const char *name, const char *path)
{
	char answer[16] = "";

	fprintf(stderr,
		"Remove VM %s's state in %s (its EFI variables and its TPM's keys, which cannot be recovered)? "
		"[y/N] ",
		name, path);
	fflush(stderr);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	answer[strcspn(answer, "\n")] = 0;
	return strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
}

int cmd_forget(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "yes", no_argument, NULL, 'y' },
		{},
	};
	_cleanup_free_ char *path = NULL, *error = NULL;
	struct runtime *rt = NULL;
	bool yes = false;
	const char *name;
	pid_t holder = 0;
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hy", options, NULL)) >= 0)
		switch (c) {
		case 'h':
			fputs(forget_usage, stdout);
			return 0;
		case 'y':
			yes = true;
			break;
		default:
			return log_error("vgpuvm forget: unknown option '%s'; see 'vgpuvm forget --help'",
					 argv[optind - 1]),
			       EX_USAGE;
		}
	if (optind + 1 != argc)
		return log_error("vgpuvm forget: expected one VM name; see 'vgpuvm forget --help'"), EX_USAGE;
	name = argv[optind];
	if (!profile_name_valid(name))
		return log_error("\"%s\" is not a VM name", name), EX_USAGE;
	r = state_path(name, &path);
	if (r == -ENXIO)
		return log_error(
			   "No state directory: neither XDG_STATE_HOME nor HOME is set; set one, or VGPUVM_STATE_DIR"),
		       EX_CONFIG;
	if (r < 0)
		return log_error_errno(r, "Failed to find the state directory: %m"), EX_OSERR;
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		printf("%s: no state to forget (%s does not exist)\n", name, path);
		return 0;
	}
	if (!yes && !isatty(STDIN_FILENO))
		return log_error("vgpuvm forget: %s's state (%s) would be lost for good; say so with --yes", name,
				 path),
		       EX_USAGE;

	/* The VM's runtime lock, held while the state goes: no `run` of it can start meanwhile. */
	r = runtime_acquire(name, &rt, &holder, &error);
	if (r == -EBUSY) {
		if (holder > 0)
			return log_error("VM %s is running (supervisor pid %ld); stop it first (vgpuvm stop %s)", name,
					 (long)holder, name),
			       EX_TEMPFAIL;
		return log_error("VM %s is running; stop it first (vgpuvm stop %s)", name, name), EX_TEMPFAIL;
	}
	if (r == -EPERM)
		return log_error("%s", error ?: strerror(-r)), EX_NOPERM;
	if (r == -ENXIO)
		return log_error("No runtime directory: XDG_RUNTIME_DIR is not set; set it, or VGPUVM_RUNTIME_DIR"),
		       EX_CONFIG;
	if (r < 0)
		return log_error_errno(r, "Failed to take VM %s's lock: %m", name), EX_CANTCREAT;
	error = mfree(error);
	if (!yes && !confirm(name, path)) {
		runtime_release(rt);
		printf("%s: kept its state in %s\n", name, path);
		return 1;
	}
	r = state_remove(name, &error);
	runtime_release(rt);
	if (r < 0)
		return log_error("%s", error ?: strerror(-r)), r == -EPERM ? EX_NOPERM : EX_CANTCREAT;
	if (r == 0)
		printf("%s: no state to forget (%s does not exist)\n", name, path);
	else
		printf("%s: removed its state %s\n", name, path);
	return 0;
}
