/* SPDX-License-Identifier: MIT */
/* What the control socket's `qmp` command may pass on to QEMU, and for whom. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Why command may not be passed through for this caller, or NULL when it may. root is a caller of uid 0; owner the
 * uid that started the VM (root too, when root started it). Only root and the owner may pass anything through; the
 * commands by which the supervisor runs QEMU (capabilities, quit, the fds it lends QEMU) are for no one; HMP, whose
 * text cannot be checked against that list, is root's alone.
 */
const char *passthrough_refusal(const char *command, bool root, bool owner);

/*
 * command as it may go into the log: at most size - 1 bytes, anything but letters, digits, '-' and '_' shown as '?',
 * so that a client cannot write lines of its own into the supervisor's log. Returns buf.
 */
char *passthrough_printable(const char *command, char *buf, size_t size);
