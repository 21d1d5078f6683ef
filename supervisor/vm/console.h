/* SPDX-License-Identifier: MIT */
/*
 * The serial console with "serial": "stdio": QEMU gets a pty of its own, never the user's terminal, and the supervisor
 * relays bytes between that pty and its own stdin and stdout in its poll loop. When stdin is a terminal, it is in raw
 * mode for the run (restored by console_free()) and Ctrl-A escapes work as in QEMU's mux.
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

struct console;

/* At most this many pollfds: the user's input, the pty, the user's output. */
#define CONSOLE_POLLFDS_MAX 3

/* What console_dispatch() asks the loop to do, as bits. */
enum {
	CONSOLE_STOP = 1 << 0, /* Ctrl-A x: stop the VM */
	CONSOLE_HELP = 1 << 1, /* Ctrl-A h: show the escapes */
};

/*
 * Opens the pty and takes its own fds of in_fd and out_fd (normally 0 and 1). When in_fd is a terminal this process has
 * in the foreground, that terminal goes into raw mode and the escapes are on. *ret_slave is the pty's other end, for
 * QEMU's stdin and stdout; the caller closes it once QEMU has it. SIGPIPE, SIGTTIN and SIGTTOU are blocked from here
 * on (a write to a closed pipe or a terminal that is not ours fails instead of killing or stopping the supervisor).
 */
int console_new(int in_fd, int out_fd, struct console **ret, int *ret_slave);

/* Whether the user's terminal is in raw mode, with the escapes on. */
bool console_interactive(const struct console *c);

/* Fills up to max pollfds (at least CONSOLE_POLLFDS_MAX, or none are filled); returns how many. Accepts NULL. */
size_t console_pollfds(const struct console *c, struct pollfd *p, size_t max);

/* Moves what poll() said is ready, without blocking. Returns CONSOLE_* bits for escapes typed. */
unsigned console_dispatch(struct console *c, const struct pollfd *p, size_t n);

/* Once QEMU is gone: writes out the rest of its output, waiting at most until deadline; warns about what is lost. */
void console_flush(struct console *c, uint64_t deadline);

/* Restores the user's terminal and closes everything. Accepts NULL. */
void console_free(struct console *c);

static inline void console_freep(struct console **c)
{
	console_free(*c);
}
#define _cleanup_console_ __attribute__((cleanup(console_freep)))
