/* SPDX-License-Identifier: MIT */
/* The profile's "input", "audio" and "boot": the guest's pointer and keyboard, its sound card, how it boots. */
#pragma once

#include <json-c/json.h>

struct profile;
struct profile_parse_ctx;

/* The keys of the "input" and "boot" objects (for profile_foreach_key and "did you mean"). */
extern const char *const profile_input_keys[];
extern const char *const profile_boot_keys[];

/*
 * Reads "input", "audio", "boot" and "agent" from the profile's root object into p, with their defaults. The display,
 * the cdrom, the disks and the NICs must be parsed already: the defaults and the checks depend on them.
 */
int profile_devices_parse(struct profile_parse_ctx *c, json_object *root, struct profile *p);
