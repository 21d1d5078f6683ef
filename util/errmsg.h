/* SPDX-License-Identifier: MIT */
/* Errors with a message for the caller to log: library-like code returns both and logs nothing. */
#pragma once

#include "util/macro.h"

/* Sets *ret_error (when ret_error is not NULL) to the formatted message, or NULL without memory; returns r. */
int errmsg(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
