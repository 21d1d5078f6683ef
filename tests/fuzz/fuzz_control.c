/* SPDX-License-Identifier: MIT */
/*
 * Bytes from a control client: the real control socket server (supervisor/vm/control.c) with one client attached over
 * a socket pair, fed the input through control_input() in pieces, and commands answered as the supervisor would,
 * their arguments checked by control_args.c and passthrough.c. The peer never reads, so the output limit is reached
 * too; then it hangs up, and the server must have let it go. The first byte sets the piece size (1, or a multiple of
 * 64).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "supervisor/log.h"
#include "supervisor/vm/control.h"
#include "supervisor/vm/control_args.h"
#include "supervisor/vm/passthrough.h"
#include "tests/fuzz/fuzz.h"
#include "util/macro.h"

/* The server under test: its callback answers through it. */
static struct control *current;

static void on_command(void *userdata, uint64_t client, struct qmp_msg *m)
{
	(void)userdata;
	struct control *c = current;
	const char *why = NULL, *command = NULL;
	json_object *args = NULL;
	bool force = false;
	int timeout = 0;

	/* The name is whole: the reader refuses one with a NUL in it. */
	fuzz_assert(m->type == QMP_MSG_COMMAND && m->name);
	if (strcmp(m->name, "stop") == 0) {
		if (control_stop_args(m->data, &force, &timeout, &why) < 0) {
			fuzz_assert(why);
			control_error(c, client, m->id, "GenericError", why);
			return;
		}
		fuzz_assert(timeout >= -1 && timeout <= CONTROL_STOP_TIMEOUT_MAX);
		control_return(c, client, m->id, NULL);
		control_event(c, "STOP_STEP", NULL);
	} else if (strcmp(m->name, "qmp") == 0) {
		bool root = control_client_role(c, client, NULL) == CONTROL_ROLE_ROOT;

		if (control_qmp_args(m->data, &command, &args, &why) < 0 ||
		    (why = passthrough_refusal(command, root, true))) {
			control_error(c, client, m->id, "GenericError", why);
			return;
		}
		fuzz_assert(*command && strcmp(command, "qmp_capabilities") != 0 && strcmp(command, "quit") != 0);
		fuzz_assert(!args || json_object_is_type(args, json_type_object));
		control_return(c, client, m->id, args);
	} else if (strcmp(m->name, "status") == 0) {
		json_object *st = json_object_new_object();

		json_object_object_add(st, "state", json_object_new_string("running"));
		control_return(c, client, m->id, st);
		json_object_put(st);
	} else
		control_error(c, client, m->id, "CommandNotFound", "unknown command");
}

static void cleanup(void)
{
	control_free(current);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];

	(void)argc;
	(void)argv;
	/* The server logs a client it drops; millions of those lines would only slow the search. */
	log_max_level = -1;
	/* One server for the whole run, as in the supervisor; each input is a new client. */
	snprintf(path, sizeof(path), "/tmp/vgpuvm-fuzz-control.%ld", (long)getpid());
	fuzz_assert(control_new(path, (gid_t)-1, on_command, NULL, &current) == 0);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pollfd p[1 + CONTROL_CLIENTS_MAX];
	uint64_t client = 0;
	size_t piece, n;
	int sv[2];

	if (!current)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	/* Byte by byte only when the first byte is 0: the QMP target already splits at every size, and a long input fed
	 * a byte at a time makes a run ten times slower. */
	piece = data[0] ? (size_t)data[0] * 64 : 1;
	data++;
	size--;

	fuzz_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	fuzz_assert(control_attach(current, sv[0], &client) == 0);
	for (size_t off = 0; off < size; off += piece)
		control_input(current, client, data + off, size - off < piece ? size - off : piece);
	/* The client hangs up: the server sees end-of-file on its next read and lets it go, as after a real one. */
	close(sv[1]);
	n = control_pollfds(current, p, ELEMENTSOF(p));
	for (size_t i = 0; i < n; i++)
		p[i].revents = i > 0 ? POLLIN | POLLHUP : 0;
	control_dispatch(current, p, n);
	/* Every client is gone again, so that no input leaves anything behind for the next. */
	fuzz_assert(control_pollfds(current, p, ELEMENTSOF(p)) == 1);
	return 0;
}
