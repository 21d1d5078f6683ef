/* SPDX-License-Identifier: MIT */
/*
 * The field readers of profile_parse.c, for the parsers of the profile's other parts (profile_net.c,
 * profile_devices.c): each names the file, the field and the fix in the one error a parse keeps.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

/* One parse: the file, the --set overrides (so that a message can say a value came from one), the error so far. */
struct profile_parse_ctx {
	const char *path;
	char *const *sets;
	char *error;
};

/* Sets the parse's error to "FILE: FIELD: message" and returns -EINVAL (-ENOMEM without memory). */
int profile_field_fail(struct profile_parse_ctx *c, const char *field, const char *fmt, ...) _printf_(3, 4);

/* A short rendering of a JSON value for "got ..." in messages, in buf. */
const char *profile_field_show(json_object *v, char *buf, size_t size);

/* A non-empty string without NUL into *ret (freeing what was there), true or false, an integer in [min, max]. */
int profile_field_string(struct profile_parse_ctx *c, json_object *v, const char *field, char **ret);
int profile_field_bool(struct profile_parse_ctx *c, json_object *v, const char *field, bool *ret);
int profile_field_uint(struct profile_parse_ctx *c, json_object *v, const char *field, unsigned min, unsigned max,
		       unsigned *ret);

/* Fails unless v is an object, or unless each of its keys is in keys (NULL-terminated; with "did you mean"). */
int profile_field_object(struct profile_parse_ctx *c, json_object *v, const char *field);
int profile_field_keys(struct profile_parse_ctx *c, json_object *o, const char *prefix, const char *const *keys);
