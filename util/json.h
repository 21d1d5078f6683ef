/* SPDX-License-Identifier: MIT */
/* Cleanup helper for json-c objects, shared by profiles/ and qmp/. */
#pragma once

#include <json-c/json.h>

static inline void json_object_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}

#define _cleanup_json_ __attribute__((cleanup(json_object_putp)))
