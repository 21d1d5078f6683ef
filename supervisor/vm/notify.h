/* SPDX-License-Identifier: MIT */
/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET; nothing when it is not set. */
#pragma once

#include "util/macro.h"

/* Sends "READY=1", "STATUS=...", "STOPPING=1" and the like, several joined by newlines. Errors are ignored. */
void notify(const char *fmt, ...) _printf_(1, 2);
