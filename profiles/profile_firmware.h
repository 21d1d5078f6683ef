/* SPDX-License-Identifier: MIT */
/* The profile's "firmware" and "tpm": what they may say, read from JSON into struct profile. */
#pragma once

#include <json-c/json.h>

struct profile;

/* The keys of the object forms, for the "unknown key" check and profile_foreach_key(). */
extern const char *const profile_firmware_keys[];
extern const char *const profile_tpm_keys[];

/*
 * Reads "firmware": "bios", "uefi" or {"type": "uefi", "secure_boot": true}. machine_given says whether the profile
 * named its machine: Secure Boot needs q35 (with SMM), which it then becomes when the profile did not say. Returns 0,
 * -ENOMEM, or -EINVAL with *ret_field (static) and *ret_msg (malloc'd) saying what is wrong and the fix.
 */
int profile_firmware_parse(json_object *v, struct profile *p, bool machine_given, const char **ret_field,
			   char **ret_msg);

/* Reads "tpm": true, false or {"version": "2.0"} ("1.2" for a TPM 1.2). Errors as profile_firmware_parse(). */
int profile_tpm_parse(json_object *v, struct profile *p, const char **ret_field, char **ret_msg);

/* Whether machine (QEMU's -machine value, with its options) is a q35 machine type. */
bool profile_machine_is_q35(const char *machine);

const char *profile_firmware_to_string(enum profile_firmware f);
const char *profile_tpm_to_string(enum profile_tpm t);
