/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "supervisor/vm/control_args.h"
#include "util/macro.h"

int control_stop_args(struct json_object *args, bool *ret_force, int *ret_timeout, const char **ret_error)
{
	json_object *v;
	bool force = false;
	int timeout = -1;

	if (args && json_object_object_get_ex(args, "force", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*ret_error = "force: expected true or false";
			return -EINVAL;
		}
		force = json_object_get_boolean(v);
	}
	if (args && json_object_object_get_ex(args, "timeout", &v)) {
		int64_t t;

		/*
		 * The type first: json-c converts a double to an integer with a plain cast, which is undefined for NaN
		 * and for values out of range ("timeout": NaN, 1e300).
		 */
		if (!json_object_is_type(v, json_type_int)) {
			*ret_error = "timeout: expected seconds from 0 to " STRINGIFY(PROFILE_TIMEOUT_MAX);
			return -EINVAL;
		}
		errno = 0;
		t = json_object_get_int64(v);
		if (errno != 0 || t < 0 || t > CONTROL_STOP_TIMEOUT_MAX) {
			*ret_error = "timeout: expected seconds from 0 to " STRINGIFY(PROFILE_TIMEOUT_MAX);
			return -EINVAL;
		}
		timeout = (int)t;
	}
	*ret_force = force;
	*ret_timeout = timeout;
	return 0;
}

int control_status_args(struct json_object *args, bool *ret_ask_qemu, const char **ret_error)
{
	json_object *v;

	if (args && json_object_object_get_ex(args, "ask_qemu", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*ret_error = "ask_qemu: expected true or false";
			return -EINVAL;
		}
		*ret_ask_qemu = json_object_get_boolean(v);
		return 0;
	}
	*ret_ask_qemu = true;
	return 0;
}

int control_qmp_args(struct json_object *args, const char **ret_command, struct json_object **ret_arguments,
		     const char **ret_error)
{
	json_object *c = NULL, *a = NULL;
	const char *s;

	if (!args || !json_object_object_get_ex(args, "command", &c) || !json_object_is_type(c, json_type_string)) {
		*ret_error = "qmp: expected {\"command\": \"...\"}";
		return -EINVAL;
	}
	s = json_object_get_string(c);
	if (strlen(s) != (size_t)json_object_get_string_len(c) || !*s) {
		*ret_error = "qmp: the command must be a name with no NUL character";
		return -EINVAL;
	}
	if (json_object_object_get_ex(args, "arguments", &a) && a && !json_object_is_type(a, json_type_object)) {
		*ret_error = "qmp: arguments must be an object";
		return -EINVAL;
	}
	*ret_command = s;
	*ret_arguments = a;
	return 0;
}

/* A member that is a string with no NUL in it, or absent: -EINVAL for anything else. */
static int text_member(json_object *args, const char *key, const char **ret)
{
	json_object *v;
	const char *s;

	if (!args || !json_object_object_get_ex(args, key, &v) || !v) {
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v) || !*s)
		return -EINVAL;
	*ret = s;
	return 0;
}

int control_usb_args(struct json_object *args, bool *ret_attach, const char **ret_device, const char **ret_serial,
		     const char **ret_error)
{
	const char *action = NULL, *device = NULL, *serial = NULL;

	if (text_member(args, "action", &action) < 0 || !action ||
	    (strcmp(action, "attach") != 0 && strcmp(action, "detach") != 0)) {
		*ret_error = "usb: expected \"action\": \"attach\" or \"detach\"";
		return -EINVAL;
	}
	if (text_member(args, "device", &device) < 0 || !device) {
		*ret_error = "usb: expected \"device\": an id (\"046d:c52b\") or a port (\"1-2\")";
		return -EINVAL;
	}
	if (text_member(args, "serial", &serial) < 0) {
		*ret_error = "usb: serial must be a non-empty string";
		return -EINVAL;
	}
	*ret_attach = action[0] == 'a';
	*ret_device = device;
	*ret_serial = serial;
	return 0;
}
