/* SPDX-License-Identifier: MIT */
/*
 * Logging for the CLI and the loop: one line per event on stderr, with a level. When stderr is the journal
 * ($JOURNAL_STREAM names it), lines carry "<N>" priority prefixes instead, as sd-daemon(3) describes.
 */
#pragma once

#include <syslog.h>

#include "util/macro.h"

extern int log_max_level;

/* Reads $JOURNAL_STREAM and $VGPUVM_LOG_LEVEL (error, warning, notice, info, debug). */
void log_setup(void);

/* Logs at level; error is a positive or negative errno for %m (0 for none). Returns -abs(error), or -EIO for 0. */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...)                                                                              \
	({                                                                                                             \
		int _l = (level);                                                                                      \
		_l <= log_max_level ? log_internal(_l, (error), __VA_ARGS__)                                           \
				    : -((error) < 0 ? -(error)                                                         \
					: (error)   ? (error)                                                          \
						    : EIO);                                                              \
	})

#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
