/* SPDX-License-Identifier: MIT */
/* Profile JSON → validated struct profile. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct profile;

/* Largest profile file vgpuvm reads; a profile is a few hundred bytes. */
#define PROFILE_FILE_MAX (1024 * 1024)

/*
 * Parses and validates a profile. path names the file in messages and gives the default name. sets is a
 * NULL-terminated list of "key.sub=value" overrides (or NULL), applied before validation. Returns 0, -EINVAL when the
 * profile is wrong (then *ret_error says "FILE: FIELD: problem"), or -ENOMEM.
 */
int profile_parse(const char *path, const char *text, size_t len, char *const *sets, struct profile **ret,
		  char **ret_error);

/* Checks the shape of one --set argument, "key.sub=value". Returns 0 or -EINVAL with *ret_error set. */
int profile_set_check(const char *assignment, char **ret_error);

/* Whether s can name a VM (and so a runtime directory): 1-64 of A-Z a-z 0-9 . _ -, not starting with . or -. */
bool profile_name_valid(const char *s);

/* Distance between two words, counting a swap of neighbours as one edit: for "did you mean". */
unsigned profile_edit_distance(const char *a, const char *b);

/*
 * Calls fn with every key a profile may hold, as a path: "memory", "vgpu.xres", and "disks[].file" for the keys of a
 * list's objects. It is how the documentation test learns the keys from the parser itself. Returns fn's first
 * negative return, else 0.
 */
int profile_foreach_key(int (*fn)(const char *key_path, void *userdata), void *userdata);
