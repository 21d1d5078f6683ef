/* SPDX-License-Identifier: MIT */
/*
 * vgpuvm viewer NAME: asks the supervisor where the VM's SPICE display is (its status) and becomes remote-viewer on it,
 * as the caller. The viewer is a client like any other: closing it leaves the VM running, and running viewer again
 * attaches again.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "supervisor/cli/ctl_cli.h"
#include "supervisor/cli/viewer_cli.h"
#include "supervisor/log.h"
#include "util/macro.h"
#include "util/time-util.h"

#define VIEWER_STATUS_TIMEOUT (10 * USEC_PER_SEC)

static const char viewer_usage[] =
    "Usage: vgpuvm viewer NAME [--full-screen]\n"
    "\n"
    "Shows VM NAME's SPICE display (\"display\": {\"type\": \"spice\"}) in remote-viewer (Debian: virt-viewer), run\n"
    "as you: on the local socket, root, the user who started the VM and the members of its profile's \"group\" get\n"
    "in. Closing the viewer leaves the VM running; viewer again attaches again. vgpuvm exits with the viewer.\n"
    "Under sudo it refuses (77): run it as yourself, with VGPUVM_RUNTIME_DIR=/run/vgpuvm for root's VMs.\n";

/* Where the status says SPICE is: a spice+unix:// URI for the socket, spice:// for TCP. NULL when there is none. */
static char *spice_uri(json_object *st)
{
	json_object *d, *sp, *v;
	char *uri = NULL;

	if (!json_object_object_get_ex(st, "display", &d) || !json_object_object_get_ex(d, "spice", &sp) || !sp)
		return NULL;
	if (json_object_object_get_ex(sp, "socket", &v) && json_object_is_type(v, json_type_string)) {
		if (asprintf(&uri, "spice+unix://%s", json_object_get_string(v)) < 0)
			return NULL;
	} else if (json_object_object_get_ex(sp, "address", &v) && json_object_is_type(v, json_type_string)) {
		if (asprintf(&uri, "spice://%s", json_object_get_string(v)) < 0)
			return NULL;
	}
	return uri;
}

int cmd_viewer(int argc, char **argv)
{
	static const struct option options[] = { { "help", no_argument, NULL, 'h' },
						 { "full-screen", no_argument, NULL, 'f' },
						 {} };
	_cleanup_free_ char *uri = NULL;
	struct ctl c;
	struct qmp_msg *m = NULL;
	const char *name, *sudo_user = getenv("SUDO_USER"), *type = "?";
	json_object *d, *v;
	bool full = false;
	int o, code;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "hf", options, NULL)) >= 0)
		switch (o) {
		case 'h':
			fputs(viewer_usage, stdout);
			return 0;
		case 'f':
			full = true;
			break;
		default:
			log_error("viewer: unknown option %s", argv[optind - 1]);
			fputs(viewer_usage, stderr);
			return EX_USAGE;
		}
	if (argc - optind != 1) {
		log_error("viewer: expected one VM name");
		fputs(viewer_usage, stderr);
		return EX_USAGE;
	}
	name = argv[optind];
	/*
	 * A viewer is a GUI program on someone's X or Wayland session: root running one there under sudo would be root
	 * on that user's desktop (its X clients, its D-Bus). The user runs it; the socket's group says whether they
	 * may.
	 */
	if (geteuid() == 0 && sudo_user && *sudo_user)
		return log_error(
			   "viewer: not as root under sudo: run \"vgpuvm viewer %s\" as %s (who must be in the VM's "
			   "\"group\"; for root's VMs with VGPUVM_RUNTIME_DIR=/run/vgpuvm)",
			   name, sudo_user),
		       EX_NOPERM;

	if ((code = ctl_open(name, false, &c)) != 0)
		return code;
	code = ctl_execute(&c, name, "status", NULL, VIEWER_STATUS_TIMEOUT, &m);
	ctl_close(&c);
	if (code != 0)
		return code;
	if (json_object_object_get_ex(m->data, "display", &d) && json_object_object_get_ex(d, "type", &v) &&
	    json_object_is_type(v, json_type_string))
		type = json_object_get_string(v);
	uri = strcmp(type, "spice") == 0 ? spice_uri(m->data) : NULL;
	if (!uri) {
		log_error("VM %s's display is \"%s\", not \"spice\": there is nothing for remote-viewer to show; set "
			  "\"display\": {\"type\": \"spice\"} in its profile and start it again",
			  name, type);
		qmp_msg_free(m);
		return EX_DATAERR;
	}
	qmp_msg_free(m);

	char *args[] = {
		"remote-viewer", "--title", (char *)name, full ? "--full-screen" : uri, full ? uri : NULL, NULL
	};
	fflush(NULL);
	execvp(args[0], args);
	if (errno == ENOENT)
		return log_error("viewer: remote-viewer is not installed; install virt-viewer (Debian: apt-get install "
				 "virt-viewer)"),
		       EX_UNAVAILABLE;
	return log_error_errno(errno, "viewer: failed to run remote-viewer: %m"), EX_OSERR;
}
