/* SPDX-License-Identifier: MIT */
/*
 * The commands that talk to a running supervisor over its control socket: list, status, stop, screenshot, qmp;
 * and cleanup, which undoes what a dead one left.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "profiles/profile.h"
#include "profiles/profile_parse.h"
#include "qmp/qmp_conn.h"
#include "supervisor/cli/ctl_cli.h"
#include "supervisor/cli/ctl_gather.h"
#include "supervisor/log.h"
#include "supervisor/host/memlock.h"
#include "supervisor/launch/recover.h"
#include "supervisor/host/runtime.h"
#include "supervisor/host/trust.h"
#include "supervisor/vm/shot.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/time-util.h"
#include "util/utf8.h"

#define CONNECT_TIMEOUT (10 * USEC_PER_SEC)

void ctl_close(struct ctl *c)
{
	qmp_conn_free(c->conn);
	safe_close(c->fd);
}

/* The directory of every VM's runtime directory. Returns 0 or an exit code, after saying why. */
int cli_base_dir(char **ret)
{
	_cleanup_free_ char *error = NULL;
	int r;

	if (runtime_base(ret) < 0)
		return log_error("No runtime directory: XDG_RUNTIME_DIR is not set; set it, or VGPUVM_RUNTIME_DIR"),
		       EX_CONFIG;
	/* A client as root talks only to sockets in a place only root can write: anyone else could serve one there. */
	r = trust_path(*ret, "the runtime directory", &error);
	if (r < 0 && r != -ENOENT) {
		log_error("%s", error ?: strerror(-r));
		*ret = mfree(*ret);
		return EX_NOPERM;
	}
	return 0;
}

static int check_name(const char *name)
{
	if (!profile_name_valid(name))
		return log_error("\"%s\" is not a VM name", name), EX_USAGE;
	return 0;
}

/*
 * The names of the runtime directories there are, sorted: the VMs that run, and the leftovers of ones that died.
 * Returns a NULL-terminated list (empty when there is no base directory yet) or NULL without memory.
 */
char **cli_vm_names(const char *base)
{
	struct dirent **names = NULL;
	char **l;
	int n = scandir(base, &names, NULL, alphasort);
	size_t k = 0;

	l = calloc(n > 0 ? (size_t)n + 1 : 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		if (l && names[i]->d_type == DT_DIR && profile_name_valid(names[i]->d_name))
			l[k++] = strdup(names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return l;
}

/* Whether a root client may talk to the server on fd. Returns 0, or an exit code after saying why (unless quiet). */
static int ctl_check_server(int fd, const char *name, const char *path, bool quiet)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (geteuid() != 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return quiet ? EX_OSERR
			     : (log_error_errno(errno, "Failed to read the credentials of %s: %m", path), EX_OSERR);
	if (cred.uid == 0)
		return 0;
	if (!quiet)
		log_error(
		    "VM %s: the supervisor at %s runs as uid %ld, not root; root talks only to supervisors that root "
		    "runs: run this command as uid %ld instead",
		    name, path, (long)cred.uid, (long)cred.uid);
	return EX_NOPERM;
}

int ctl_open(const char *name, bool quiet, struct ctl *ret)
{
	_cleanup_free_ char *base = NULL, *path = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl c = { .fd = -1 };
	int r;

	if ((r = check_name(name)) != 0 || (r = cli_base_dir(&base)) != 0)
		return r;
	if (asprintf(&path, "%s/%s/control", base, name) < 0)
		return EX_OSERR;
	if (strlen(path) >= sizeof(sa.sun_path))
		return log_error("%s: path too long for a socket", path), EX_CONFIG;
	strcpy(sa.sun_path, path);
	c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c.fd < 0)
		return log_error_errno(errno, "socket(): %m"), EX_OSERR;
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno;
		close(c.fd);
		if (quiet)
			return EX_UNAVAILABLE;
		if (r == ENOENT || r == ECONNREFUSED)
			return log_error("no VM named %s is running (no supervisor at %s)", name, path), EX_UNAVAILABLE;
		if (r == EACCES || r == EPERM)
			return log_error(
				   "%s: permission denied: only root, the user who started VM %s and the members of "
				   "its profile's group may control it",
				   path, name),
			       EX_NOPERM;
		return log_error_errno(r, "Failed to connect to %s: %m", path), EX_UNAVAILABLE;
	}
	/*
	 * Root believes only a supervisor that root runs: the path comes from the environment, and whoever listens
	 * there would be answering root (the server's credentials are those it had when it called listen()).
	 */
	if ((r = ctl_check_server(c.fd, name, path, quiet)) != 0) {
		close(c.fd);
		return r;
	}
	if ((r = qmp_conn_new(c.fd, &c.conn)) < 0) {
		close(c.fd);
		return EX_OSERR;
	}
	r = qmp_conn_handshake(c.conn, deadline_after(CONNECT_TIMEOUT), NULL);
	if (r < 0) {
		if (!quiet)
			log_error("VM %s's supervisor did not answer (%s); is it yours?", name,
				  r == -ECONNRESET ? "it closed the connection" : strerror(-r));
		ctl_close(&c);
		return r == -ECONNRESET ? EX_NOPERM : EX_PROTOCOL;
	}
	*ret = c;
	return 0;
}

int ctl_execute(struct ctl *c, const char *name, const char *cmd, json_object *args, uint64_t timeout,
		struct qmp_msg **ret)
{
	struct qmp_msg *m = NULL;
	int r = qmp_conn_execute(c->conn, cmd, args, timeout ? deadline_after(timeout) : USEC_INFINITY, &m);

	if (r < 0)
		return log_error("VM %s: %s failed: %s", name, cmd,
				 r == -ECONNRESET ? "the supervisor went away" : strerror(-r)),
		       EX_PROTOCOL;
	if (m->type == QMP_MSG_ERROR) {
		log_error("VM %s: %s: %s", name, cmd, m->error_desc);
		qmp_msg_free(m);
		return EX_SOFTWARE;
	}
	*ret = m;
	return 0;
}

int ctl_call(const char *name, const char *cmd, json_object *args, uint64_t timeout, struct qmp_msg **ret)
{
	struct ctl c;
	int r;

	if ((r = ctl_open(name, false, &c)) != 0)
		return r;
	r = qmp_conn_execute(c.conn, cmd, args, timeout ? deadline_after(timeout) : USEC_INFINITY, ret);
	ctl_close(&c);
	if (r < 0)
		return log_error("VM %s: %s failed: %s", name, cmd,
				 r == -ECONNRESET ? "the supervisor went away" : strerror(-r)),
		       EX_PROTOCOL;
	return 0;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : NULL;
}

/*
 * Whether a member is an integer in [min, max], stored in *ret: the reply's type is checked before any conversion, as
 * json-c converts a double (NaN, 1e300) to an integer with a plain cast.
 */
static bool jint(json_object *o, const char *key, int64_t min, int64_t max, int64_t *ret)
{
	json_object *v;
	int64_t n;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	n = json_object_get_int64(v);
	if (errno != 0 || n < min || n > max)
		return false;
	*ret = n;
	return true;
}

static void format_uptime(json_object *st, char *buf, size_t size)
{
	json_object *v;
	double d;
	long s;

	/* Seconds as a double; anything else, or a value no uptime has (NaN, negative, centuries), is shown as "-". */
	d = json_object_object_get_ex(st, "uptime", &v) && json_object_is_type(v, json_type_double)
		? json_object_get_double(v)
		: -1;
	if (!(d >= 0 && d < 1e10)) {
		snprintf(buf, size, "-");
		return;
	}
	s = (long)d;
	if (s >= 86400)
		snprintf(buf, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
}

/* One line a NIC: "user MODEL MAC, tcp 127.0.0.1:2222 -> 22", "bridge br0 tap TAP MODEL MAC", "tap TAP MODEL MAC". */
static void print_net(json_object *st)
{
	json_object *net = NULL, *fw = NULL;

	if (!json_object_object_get_ex(st, "net", &net) || !json_object_is_type(net, json_type_array) ||
	    json_object_array_length(net) == 0) {
		printf("net:          none\n");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(net); i++) {
		json_object *n = json_object_array_get_idx(net, i);
		const char *type = jstr(n, "type") ?: "?";

		printf("net:          %s", type);
		if (strcmp(type, "bridge") == 0)
			printf(" %s tap %s", jstr(n, "bridge") ?: "?", jstr(n, "tap") ?: "?");
		else if (strcmp(type, "tap") == 0)
			printf(" %s", jstr(n, "tap") ?: "?");
		printf(" %s %s", jstr(n, "model") ?: "?", jstr(n, "mac") ?: "?");
		if (json_object_object_get_ex(n, "forward", &fw) && json_object_is_type(fw, json_type_array))
			for (size_t j = 0; j < json_object_array_length(fw); j++) {
				json_object *f = json_object_array_get_idx(fw, j);

				printf(", %s %s:%s -> %s", jstr(f, "proto") ?: "?", jstr(f, "address") ?: "?",
				       jstr(f, "host") ?: "?", jstr(f, "guest") ?: "?");
			}
		printf("\n");
	}
}

/* What the guest agent said, which is the guest's to choose: control characters are shown escaped. */
static void print_guest_string(const char *label, const char *s)
{
	_cleanup_free_ char *e = s ? utf8_escape_controls(s) : NULL;

	printf("%-14s%s\n", label, e ?: "?");
}

/* "agent: connected (qemu-ga 7.2.0)", the guest's OS, one line an address. */
static void print_agent(json_object *st)
{
	json_object *a = NULL, *os = NULL, *addrs = NULL;
	char buf[512];

	if (!json_object_object_get_ex(st, "agent", &a) || !a)
		return;
	snprintf(buf, sizeof(buf), "%s%s%s%s", jstr(a, "state") ?: "?", jstr(a, "version") ? " (qemu-ga " : "",
		 jstr(a, "version") ?: "", jstr(a, "version") ? ")" : "");
	print_guest_string("agent:", buf);
	if (json_object_object_get_ex(a, "os", &os) && os) {
		snprintf(buf, sizeof(buf), "%s, kernel %s", jstr(os, "pretty_name") ?: jstr(os, "name") ?: "?",
			 jstr(os, "kernel_release") ?: "?");
		print_guest_string("guest os:", buf);
	}
	if (json_object_object_get_ex(a, "addresses", &addrs) && json_object_is_type(addrs, json_type_array))
		for (size_t i = 0; i < json_object_array_length(addrs); i++) {
			json_object *x = json_object_array_get_idx(addrs, i);

			snprintf(buf, sizeof(buf), "%s/%s (%s)", jstr(x, "address") ?: "?", jstr(x, "prefix") ?: "?",
				 jstr(x, "interface") ?: "?");
			print_guest_string("address:", buf);
		}
}

/* One line a USB device: "046d:c52b port 1-2 USB Receiver (at start)". */
static void print_usb(json_object *st)
{
	json_object *usb = NULL;

	if (!json_object_object_get_ex(st, "usb", &usb) || !json_object_is_type(usb, json_type_array) ||
	    json_object_array_length(usb) == 0) {
		printf("usb:          none\n");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(usb); i++) {
		json_object *u = json_object_array_get_idx(usb, i);
		const char *product = jstr(u, "product"), *state = jstr(u, "state");

		printf("usb:          %s port %s%s%s (%s%s%s)\n", jstr(u, "id") ?: "?", jstr(u, "port") ?: "?",
		       product && *product ? " " : "", product ?: "",
		       strcmp(jstr(u, "attached") ?: "", "runtime") == 0 ? "attached at runtime" : "at start",
		       state && strcmp(state, "attached") != 0 ? ", " : "",
		       state && strcmp(state, "attached") != 0 ? state : "");
	}
}

static void print_status(json_object *st)
{
	json_object *g = NULL, *d = NULL, *ml = NULL, *v;
	char up[32], soft[32] = "?", hard[32] = "?";
	const char *audio;

	format_uptime(st, up, sizeof(up));
	json_object_object_get_ex(st, "vgpu", &g);
	json_object_object_get_ex(st, "display", &d);
	printf("name:         %s\n", jstr(st, "name") ?: "?");
	printf("state:        %s\n", jstr(st, "state") ?: "?");
	printf("qemu status:  %s\n", jstr(st, "qemu_status") ?: "-");
	printf("supervisor:   pid %s\n", jstr(st, "supervisor_pid") ?: "?");
	printf("qemu:         %s%s\n", jstr(st, "qemu_pid") ? "pid " : "-", jstr(st, "qemu_pid") ?: "");
	printf("uptime:       %s\n", up);
	printf("profile:      %s\n", jstr(st, "profile") ?: "?");
	if (g) {
		json_object_object_get_ex(g, "memlock", &ml);
		printf("vgpu:         %s (%s on %s, %s)\n", jstr(g, "uuid") ?: "?", jstr(g, "type") ?: "?",
		       jstr(g, "parent") ?: "?",
		       json_object_object_get_ex(g, "created", &v) && json_object_get_boolean(v) ? "made by vgpuvm"
												 : "adopted");
		if (ml && json_object_object_get_ex(ml, "soft", &v)) {
			int64_t n;

			/* null is unlimited; a value that is no byte count is too (the supervisor never sends one). */
			memlock_format(jint(ml, "soft", 0, INT64_MAX, &n) ? (uint64_t)n : MEMLOCK_UNLIMITED, soft,
				       sizeof(soft));
			memlock_format(jint(ml, "hard", 0, INT64_MAX, &n) ? (uint64_t)n : MEMLOCK_UNLIMITED, hard,
				       sizeof(hard));
		}
		printf("memlock:      %s (soft), %s (hard)\n", soft, hard);
	} else
		printf("vgpu:         none\n");
	printf("display:      %s%s\n", jstr(d, "type") ?: "?",
	       d && json_object_object_get_ex(d, "gl", &v) && json_object_get_boolean(v) ? ", GL" : "");
	if (d && json_object_object_get_ex(d, "spice", &v) && v)
		printf("spice:        %s%s (vgpuvm viewer %s)\n", jstr(v, "socket") ? "" : "tcp ",
		       jstr(v, "socket") ?: jstr(v, "address") ?: "?", jstr(st, "name") ?: "NAME");
	print_net(st);
	print_usb(st);
	audio = jstr(st, "audio");
	printf("audio:        %s\n", !audio			  ? "no sound card"
				     : strcmp(audio, "none") == 0 ? "none (a sound card that plays nowhere)"
								  : audio);
	printf("restarts:     %s\n", jstr(st, "restarts") ?: "0");
	print_agent(st);
}

int cli_parse_json_flag(int argc, char **argv, const char *usage, const char *wanted, int min_args, int max_args,
			bool *ret_json, bool *ret_done)
{
	static const struct option options[] = { { "help", no_argument, NULL, 'h' },
						 { "json", no_argument, NULL, 'j' },
						 {} };
	bool json = false;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hj", options, NULL)) >= 0)
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			*ret_done = true;
			return 0;
		case 'j':
			json = true;
			break;
		default:
			return log_error("vgpuvm %s: unknown option '%s'; see 'vgpuvm %s --help'", argv[0],
					 argv[optind - 1], argv[0]),
			       EX_USAGE;
		}
	if (argc - optind < min_args || argc - optind > max_args)
		return log_error("vgpuvm %s: expected %s; see 'vgpuvm %s --help'", argv[0], wanted, argv[0]), EX_USAGE;
	*ret_json = json;
	*ret_done = false;
	return 0;
}

static const char status_usage[] =
    "Usage: vgpuvm status NAME [--json]\n"
    "\n"
    "Shows a running VM: supervisor state, QEMU's status, pids, uptime, the mdev, the\n"
    "locked-memory limit QEMU really has, the display. --json prints the status object.\n";

int cmd_status(int argc, char **argv)
{
	_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
	struct ctl c;
	bool json = false, done = false;
	int r;

	if ((r = cli_parse_json_flag(argc, argv, status_usage, "a VM name", 1, 1, &json, &done)) != 0 || done)
		return r;
	if ((r = ctl_open(argv[optind], false, &c)) != 0)
		return r;
	r = ctl_execute(&c, argv[optind], "status", NULL, CONNECT_TIMEOUT, &m);
	ctl_close(&c);
	if (r != 0)
		return r;
	if (json)
		puts(json_object_to_json_string_ext(m->data, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_status(m->data);
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}

static const char list_usage[] =
    "Usage: vgpuvm list [--json]\n"
    "\n"
    "Lists the VMs whose supervisor runs. --json prints {\"format_version\": 1, \"vms\": [...]},\n"
    "a status object for each VM.\n";

int cmd_list(int argc, char **argv)
{
	_cleanup_json_ json_object *all = json_object_new_array();
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *base = NULL;
	json_object **replies = NULL;
	bool json = false, done = false;
	size_t n;
	int r;

	if ((r = cli_parse_json_flag(argc, argv, list_usage, "no arguments", 0, 0, &json, &done)) != 0 || done)
		return r;
	if ((r = cli_base_dir(&base)) != 0)
		return r;
	if (!(names = cli_vm_names(base)))
		return EX_OSERR;
	/*
	 * All at once: a directory whose supervisor does not answer is a leftover for cleanup, not a running VM. The
	 * table shows nothing QEMU must be asked for, so each supervisor answers from its own state; --json asks QEMU,
	 * so that each status object is the one `status --json` gives.
	 */
	n = 0;
	while (names[n])
		n++;
	if ((r = ctl_gather_status(base, names, n, json, deadline_after(CONNECT_TIMEOUT), &replies)) < 0)
		return log_error_errno(r, "Failed to ask the supervisors: %m"), EX_OSERR;
	for (size_t i = 0; i < n; i++)
		if (replies[i])
			json_object_array_add(all, json_object_get(replies[i]));
	ctl_gather_free(replies, n);
	if (json) {
		/* An object rather than a bare list, so that the format's version is there even when no VM runs. */
		_cleanup_json_ json_object *out = json_object_new_object();

		json_object_object_add(out, "format_version", json_object_new_int(STATUS_FORMAT_VERSION));
		json_object_object_add(out, "vms", json_object_get(all));
		puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		return fflush(stdout) == 0 ? 0 : EX_IOERR;
	}
	if (json_object_array_length(all) == 0) {
		puts("no VMs running");
		return 0;
	}
	/* Columns as wide as their widest entry, so that long names keep the table aligned. */
	int w_name = 4, w_state = 5;
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i);
		int a = (int)strlen(jstr(st, "name") ?: "?"), b = (int)strlen(jstr(st, "state") ?: "?");
		w_name = a > w_name ? a : w_name;
		w_state = b > w_state ? b : w_state;
	}
	printf("%-*s  %-*s  %-8s  %-7s  %s\n", w_name, "NAME", w_state, "STATE", "QEMU-PID", "UPTIME", "VGPU");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *st = json_object_array_get_idx(all, i), *g = NULL;
		char up[32], vgpu[128] = "-";

		format_uptime(st, up, sizeof(up));
		if (json_object_object_get_ex(st, "vgpu", &g) && g)
			snprintf(vgpu, sizeof(vgpu), "%s %s", jstr(g, "type") ?: "?", jstr(g, "uuid") ?: "?");
		printf("%-*s  %-*s  %-8s  %-7s  %s\n", w_name, jstr(st, "name") ?: "?", w_state,
		       jstr(st, "state") ?: "?", jstr(st, "qemu_pid") ?: "-", up, vgpu);
	}
	return 0;
}

static const char stop_usage[] =
    "Usage: vgpuvm stop NAME [--timeout S] [--force]\n"
    "\n"
    "Stops a VM as SIGTERM does (the guest agent's guest-shutdown when an agent answers, the power button, then\n"
    "QMP quit, then SIGTERM, then SIGKILL), prints each step and waits until the VM is gone and its mdev removed.\n"
    "Exits with the VM's exit code.\n"
    "\n"
    "  --timeout S   give the guest S seconds to power off at each step that asks it (agent_timeout and\n"
    "                powerdown_timeout in the profile)\n"
    "  --force       skip the steps that ask the guest: start at QMP quit\n";

int cmd_stop(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{},
	};
	_cleanup_json_ json_object *args = json_object_new_object();
	_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
	const char *name;
	struct ctl c;
	char *end;
	long t;
	int ch, r;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "ht:f", options, NULL)) >= 0)
		switch (ch) {
		case 'h':
			fputs(stop_usage, stdout);
			return 0;
		case 't':
			t = strtol(optarg, &end, 10);
			if (*end || t < 0 || t > PROFILE_TIMEOUT_MAX)
				return log_error("vgpuvm stop: --timeout: expected seconds from 0 to %d, got \"%s\"",
						 PROFILE_TIMEOUT_MAX, optarg),
				       EX_USAGE;
			json_object_object_add(args, "timeout", json_object_new_int64(t));
			break;
		case 'f':
			json_object_object_add(args, "force", json_object_new_boolean(true));
			break;
		default:
			return log_error("vgpuvm stop: unknown option '%s'; see 'vgpuvm stop --help'",
					 argv[optind - 1]),
			       EX_USAGE;
		}
	if (argc - optind != 1)
		return log_error("vgpuvm stop: expected a VM name; see 'vgpuvm stop --help'"), EX_USAGE;
	name = argv[optind];
	if ((r = ctl_open(name, false, &c)) != 0)
		return r;
	if ((r = ctl_execute(&c, name, "stop", args, CONNECT_TIMEOUT, &m)) != 0) {
		ctl_close(&c);
		return r;
	}
	/* The supervisor tells each step, then EXITED once QEMU is reaped and the mdev gone. */
	for (;;) {
		_cleanup_qmp_msg_ struct qmp_msg *e = NULL;
		json_object *v;

		r = qmp_conn_next_event(c.conn, USEC_INFINITY, &e);
		if (r < 0) {
			log_error("VM %s: the supervisor went away before it said how the VM ended", name);
			ctl_close(&c);
			return EX_PROTOCOL;
		}
		if (strcmp(e->name, "STOP_STEP") == 0)
			printf("%s: %s after %.1f s\n", name, jstr(e->data, "step") ?: "?",
			       json_object_object_get_ex(e->data, "elapsed", &v) ? json_object_get_double(v) : 0.0);
		else if (strcmp(e->name, "SHUTDOWN") == 0)
			printf("%s: QEMU shuts down (guest %s, reason %s)\n", name,
			       json_object_object_get_ex(e->data, "guest", &v) && json_object_get_boolean(v)
				   ? "powered off"
				   : "did not",
			       jstr(e->data, "reason") ?: "?");
		else if (strcmp(e->name, "EXITED") == 0) {
			int64_t n;
			int code = jint(e->data, "exit_code", 0, 255, &n) ? (int)n : EX_PROTOCOL;
			printf("%s: stopped: exit %d\n", name, code);
			fflush(stdout);
			ctl_close(&c);
			return code;
		}
		fflush(stdout);
	}
}

static const char screenshot_usage[] =
    "Usage: vgpuvm screenshot NAME FILE.png\n"
    "\n"
    "Saves the guest's display as a PNG (QMP screendump). FILE is written as the caller; a\n"
    "symbolic link, a FIFO or a file of another user at FILE is refused, not followed.\n";

/* Opens FILE for the screenshot. Returns 0, or an exit code after saying why. */
static int open_output(const char *file, int *ret)
{
	int r = shot_open_output(file, ret);

	switch (r) {
	case 0:
		return 0;
	case -ELOOP:
		return log_error("%s is a symbolic link: refusing to follow it; remove it or name another file", file),
		       EX_CANTCREAT;
	case -EBADFD:
		return log_error("%s is not a regular file: refusing to write into it", file), EX_CANTCREAT;
	case -EMLINK:
		return log_error("%s has other hard links: refusing to write through them", file), EX_CANTCREAT;
	case -EPERM:
		return log_error("%s belongs to another user: refusing to write into it", file), EX_CANTCREAT;
	default:
		return log_error_errno(r, "Failed to create %s: %m", file), EX_CANTCREAT;
	}
}

int cmd_screenshot(int argc, char **argv)
{
	_cleanup_qmp_msg_ struct qmp_msg *m = NULL;
	_cleanup_close_ int in = -1, out = -1;
	json_object *v;
	uint64_t size;
	struct ctl c;
	int r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return fputs(screenshot_usage, stdout), 0;
	if (argc != 3)
		return log_error("vgpuvm screenshot: expected NAME FILE.png; see 'vgpuvm screenshot --help'"), EX_USAGE;
	if ((r = ctl_open(argv[1], false, &c)) != 0)
		return r;
	/* The screenshot comes as an fd with the reply; one sent before it is not it. */
	safe_close(qmp_conn_take_fd(c.conn));
	r = ctl_execute(&c, argv[1], "screenshot", NULL, 30 * USEC_PER_SEC, &m);
	if (r == 0)
		in = qmp_conn_take_fd(c.conn);
	ctl_close(&c);
	if (r != 0)
		return r;
	/* The client opens no path the supervisor names: only the sealed memfd it was handed, and FILE, as the caller.
	 */
	if (in < 0)
		return log_error("VM %s: the reply to screenshot carried no file descriptor; refusing it", argv[1]),
		       EX_PROTOCOL;
	r = shot_check(in, &size);
	if (r < 0)
		return log_error("VM %s: refusing the screenshot the supervisor sent: %s", argv[1],
				 r == -EBADFD  ? "not a sealed memfd"
				 : r == -EFBIG ? "larger than 64 MiB"
					       : strerror(-r)),
		       EX_PROTOCOL;
	if (!json_object_object_get_ex(m->data, "size", &v) || json_object_get_int64(v) != (int64_t)size)
		return log_error("VM %s: the screenshot's size is not the one the supervisor said", argv[1]),
		       EX_PROTOCOL;
	if ((r = open_output(argv[2], &out)) != 0)
		return r;
	r = shot_copy(in, out, size);
	if (r < 0 || close(TAKE_FD(out)) < 0)
		return log_error_errno(r < 0 ? r : errno, "Failed to write %s: %m", argv[2]), EX_IOERR;
	return 0;
}

static const char qmp_usage[] =
    "Usage: vgpuvm qmp NAME JSON\n"
    "\n"
    "Passes one QMP command to the VM's QEMU, e.g. '{\"execute\": \"query-status\"}', and prints\n"
    "QEMU's reply. Exits 0 for a return, 1 for an error reply.\n";

int cmd_qmp(int argc, char **argv)
{
	_cleanup_json_ json_object *cmd = NULL, *args = json_object_new_object();
	struct qmp_msg *m = NULL;
	json_object *ex, *a;
	struct ctl c;
	int r;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return fputs(qmp_usage, stdout), 0;
	if (argc != 3)
		return log_error("vgpuvm qmp: expected NAME JSON; see 'vgpuvm qmp --help'"), EX_USAGE;
	cmd = json_tokener_parse(argv[2]);
	if (!cmd || !json_object_object_get_ex(cmd, "execute", &ex) || !json_object_is_type(ex, json_type_string))
		return log_error("vgpuvm qmp: expected a QMP command like '{\"execute\": \"query-status\"}'"), EX_USAGE;
	json_object_object_add(args, "command", json_object_get(ex));
	if (json_object_object_get_ex(cmd, "arguments", &a))
		json_object_object_add(args, "arguments", json_object_get(a));
	if ((r = ctl_open(argv[1], false, &c)) != 0)
		return r;
	r = qmp_conn_execute(c.conn, "qmp", args, deadline_after(60 * USEC_PER_SEC), &m);
	ctl_close(&c);
	if (r < 0)
		return log_error("VM %s: qmp failed: %s", argv[1], strerror(-r)), EX_PROTOCOL;
	json_object_object_del(m->root, "id");
	puts(json_object_to_json_string_ext(m->root, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	r = m->type == QMP_MSG_RETURN ? 0 : 1;
	qmp_msg_free(m);
	return r;
}

static const char cleanup_usage[] =
    "Usage: vgpuvm cleanup [NAME]\n"
    "\n"
    "Undoes what a supervisor that died (killed, crashed) left behind: the mdev it made, its runtime files.\n"
    "Refuses while a QEMU still holds the mdev. Without NAME, every VM's leftovers.\n";

/* Cleans one name. Returns 0 or an exit code; *found says whether there was anything. */
static int cleanup_one(const char *name, bool named)
{
	_cleanup_free_ char *done = NULL, *error = NULL;
	struct runtime *rt = NULL;
	pid_t pid = 0;
	int r;

	r = runtime_acquire(name, &rt, &pid, &error);
	if (r == -EBUSY) {
		if (named)
			printf("%s: running (supervisor pid %ld); nothing to clean up\n", name, (long)pid);
		return 0;
	}
	if (r == -EPERM)
		return log_error("%s: %s", name, error ?: strerror(-r)), EX_NOPERM;
	if (r < 0)
		return log_error_errno(r, "Failed to look at VM %s: %m", name), EX_CANTCREAT;
	r = recover(rt->dir, &pid, &done, &error);
	if (r == -EBUSY) {
		log_error("%s: QEMU pid %ld still holds its mdev; stop it (kill %ld), then run vgpuvm cleanup again",
			  name, (long)pid, (long)pid);
		/* runtime_release keeps the record: it is what the next try needs. */
		runtime_release(rt);
		return EX_TEMPFAIL;
	}
	if (r < 0) {
		log_error("%s: %s", name, error ?: strerror(-r));
		runtime_release(rt);
		return EX_UNAVAILABLE;
	}
	printf("%s: %s\n", name, done ?: "cleaned up");
	runtime_release(rt);
	return 0;
}

int cmd_cleanup(int argc, char **argv)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *base = NULL;
	int r, code = 0;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return fputs(cleanup_usage, stdout), 0;
	if (argc > 2)
		return log_error("vgpuvm cleanup: expected at most one VM name"), EX_USAGE;
	if (argc == 2)
		return (r = check_name(argv[1])) != 0 ? r : cleanup_one(argv[1], true);
	if ((r = cli_base_dir(&base)) != 0)
		return r;
	if (!(names = cli_vm_names(base)))
		return EX_OSERR;
	for (char **name = names; *name; name++)
		if ((r = cleanup_one(*name, false)) != 0)
			code = r;
	return code;
}
