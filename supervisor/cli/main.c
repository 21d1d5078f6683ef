/* SPDX-License-Identifier: MIT */
/* vgpuvm: run a VM with a mediated-device vGPU directly on QEMU. */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "util/macro.h"

#include "supervisor/cli/ctl_cli.h"
#include "supervisor/cli/doctor_cli.h"
#include "supervisor/cli/metrics_cli.h"
#include "supervisor/log.h"
#include "supervisor/cli/profile_cli.h"
#include "supervisor/cli/run.h"
#include "supervisor/cli/state_cli.h"
#include "supervisor/host/trust.h"
#include "supervisor/cli/types_cli.h"
#include "supervisor/cli/usb_cli.h"
#include "supervisor/cli/viewer_cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "argv", cmd_argv, "print the QEMU command line a profile gives" },
	{ "check", cmd_check, "validate a profile and summarise it" },
	{ "run", cmd_run, "run the VM in the foreground, from the mdev to a clean exit" },
	{ "list", cmd_list, "list the running VMs" },
	{ "status", cmd_status, "show a running VM" },
	{ "stop", cmd_stop, "stop a running VM and wait until it is gone" },
	{ "screenshot", cmd_screenshot, "save a running VM's display as PNG" },
	{ "viewer", cmd_viewer, "show a running VM's SPICE display in remote-viewer" },
	{ "qmp", cmd_qmp, "pass one QMP command to a running VM's QEMU" },
	{ "usb", cmd_usb, "attach a host USB device to a running VM, or detach it" },
	{ "cleanup", cmd_cleanup, "undo what a supervisor that died left behind" },
	{ "forget", cmd_forget, "remove a VM's state (its UEFI NVRAM, its TPM)" },
	{ "doctor", cmd_doctor, "check the host for what a vGPU VM needs, and say how to fix it" },
	{ "types", cmd_types, "list the host's mdev parents, vGPU types and mdevs" },
	{ "metrics", cmd_metrics, "print the host's VMs, mdev types and doctor's findings for Prometheus" },
};

static void help(FILE *f)
{
	fputs("Usage: vgpuvm COMMAND [ARGS]...\n"
	      "       vgpuvm --help | --version\n"
	      "\n"
	      "Runs one virtual machine with a mediated-device vGPU (Intel GVT-g, or any mdev display) on QEMU.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'vgpuvm COMMAND --help' tells more. Exit codes: 0 success, 64 bad usage, 65 bad profile,\n"
	      "66 profile not found or unreadable; vgpuvm(1) lists them all.\n",
	      f);
}

int main(int argc, char **argv)
{
	log_setup();
	if (argc < 2) {
		help(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vgpuvm %s\n", VGPUVM_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			_cleanup_free_ char *error = NULL;

			/* As root, a variable that points vgpuvm at a place someone else controls is refused, for every
			 * command: each reads or acts on what is there with root's authority. */
			if (trust_environment(&error) < 0)
				return log_error("%s",
						 error
						     ?: "an environment variable points at a place root cannot trust"),
				       EX_NOPERM;
			return commands[i].run(argc - 1, argv + 1);
		}
	log_error("unknown command \"%s\"; 'vgpuvm --help' lists the commands", argv[1]);
	return EX_USAGE;
}
