/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "supervisor/vm/passthrough.h"

const char *passthrough_refusal(const char *command, bool root, bool owner)
{
	static const char *const fd_commands[] = { "add-fd", "remove-fd", "getfd", "closefd" };

	if (!root && !owner)
		return "qmp is for root and the user who started the VM";
	if (strcmp(command, "qmp_capabilities") == 0)
		return "qmp_capabilities is vgpuvm's to send";
	if (strcmp(command, "quit") == 0)
		return "quit is vgpuvm's to send: use `vgpuvm stop NAME` (--force to skip the power button)";
	for (size_t i = 0; i < sizeof(fd_commands) / sizeof(fd_commands[0]); i++)
		if (strcmp(command, fd_commands[i]) == 0)
			return "QEMU's file descriptors are vgpuvm's: add-fd, remove-fd, getfd and closefd are not "
			       "passed through";
	if (strcmp(command, "human-monitor-command") == 0 && !root)
		return "human-monitor-command (HMP) is for root only: its text is not checked the way QMP commands are";
	return NULL;
}

char *passthrough_printable(const char *command, char *buf, size_t size)
{
	size_t i = 0;

	if (size == 0)
		return buf;
	for (; command[i] && i < size - 1; i++) {
		unsigned char c = (unsigned char)command[i];

		buf[i] = isascii(c) && (isalnum(c) || c == '-' || c == '_') ? (char)c : '?';
	}
	buf[i] = 0;
	return buf;
}
