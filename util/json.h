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

#include <stddef.h>

/*
 * The offset of the first \u0000 escape inside a JSON string of text (len bytes, not necessarily NUL-terminated), or
 * SIZE_MAX. json-c keeps an object's keys as C strings and cuts a key at such an escape without a word
 * ("LD_PRELOAD\u0000x" becomes "LD_PRELOAD"), so text holding one is refused before it is parsed.
 */
size_t json_text_nul_escape(const char *text, size_t len);
