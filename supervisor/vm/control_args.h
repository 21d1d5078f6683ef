/* SPDX-License-Identifier: MIT */
/*
 * The arguments of the control socket's commands, checked before anything acts on them: they come from a client, and
 * every number is type- and range-checked before it is converted. Pure: no I/O.
 */
#pragma once

#include "profiles/profile.h"

#include <stdbool.h>

struct json_object;

/* The longest a stop may be given per step, in seconds. */
#define CONTROL_STOP_TIMEOUT_MAX PROFILE_TIMEOUT_MAX /* the profile's own limit: a stop may ask what a profile may */

/*
 * stop's arguments (args may be NULL): "force" a boolean, "timeout" an integer number of seconds from 0 to
 * CONTROL_STOP_TIMEOUT_MAX (-1 when absent). Returns 0, or -EINVAL with *ret_error set to a static message for the
 * client; the out parameters are untouched on failure.
 */
int control_stop_args(struct json_object *args, bool *ret_force, int *ret_timeout, const char **ret_error);

/*
 * status's arguments (args may be NULL): "ask_qemu" a boolean, true when absent (false: answer from the supervisor's
 * own state, without a round trip to QEMU). Returns 0 or -EINVAL as above.
 */
int control_status_args(struct json_object *args, bool *ret_ask_qemu, const char **ret_error);

/*
 * qmp's arguments: "command" a non-empty string with no NUL, and "arguments" an object or absent. Which commands may
 * go on to QEMU, and for whom, is passthrough.h's to say. *ret_command and *ret_arguments point into args. Returns 0
 * or -EINVAL as above.
 */
int control_qmp_args(struct json_object *args, const char **ret_command, struct json_object **ret_arguments,
		     const char **ret_error);

/*
 * usb's arguments: "action" "attach" or "detach", "device" a non-empty string with no NUL (an id or a port, which the
 * supervisor tells apart), "serial" a string or absent. The strings point into args. Returns 0 or -EINVAL as above.
 */
int control_usb_args(struct json_object *args, bool *ret_attach, const char **ret_device, const char **ret_serial,
		     const char **ret_error);
