/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "profiles/profile_firmware.h"
#include "profiles/profile_parse.h"
#include "util/macro.h"

const char *const profile_firmware_keys[] = { "type", "secure_boot", NULL };
const char *const profile_tpm_keys[] = { "version", NULL };

static const char *const firmware_names[PROFILE_FIRMWARE_MAX] = {
	[PROFILE_FIRMWARE_BIOS] = "bios",
	[PROFILE_FIRMWARE_UEFI] = "uefi",
};

static const char *const tpm_names[PROFILE_TPM_MAX] = {
	[PROFILE_TPM_NONE] = "none",
	[PROFILE_TPM_2_0] = "2.0",
	[PROFILE_TPM_1_2] = "1.2",
};

const char *profile_firmware_to_string(enum profile_firmware f)
{
	return f < PROFILE_FIRMWARE_MAX ? firmware_names[f] : NULL;
}

const char *profile_tpm_to_string(enum profile_tpm t)
{
	return t < PROFILE_TPM_MAX ? tpm_names[t] : NULL;
}

static int bad(const char **ret_field, char **ret_msg, const char *field, const char *fmt, ...) _printf_(4, 5);

static int bad(const char **ret_field, char **ret_msg, const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(ret_msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	*ret_field = field;
	return -EINVAL;
}

/* JSON as the profile wrote it, for "got ..." */
static const char *shown(json_object *v)
{
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The first key of o that keys lacks, with the nearest one as a suggestion. */
static int check_object_keys(json_object *o, const char *prefix, const char *const *keys, const char **ret_field,
			     char **ret_msg)
{
	static char field[64];

	json_object_object_foreach(o, key, val)
	{
		const char *best = NULL;
		bool known = false;

		(void)val;
		for (const char *const *k = keys; *k && !known; k++) {
			known = strcmp(*k, key) == 0;
			if (!known && profile_edit_distance(key, *k) < 3)
				best = *k;
		}
		if (known)
			continue;
		snprintf(field, sizeof(field), "%s.%.40s", prefix, key);
		return best ? bad(ret_field, ret_msg, field, "unknown key; did you mean \"%s\"?", best)
			    : bad(ret_field, ret_msg, field, "unknown key (see vgpuvm-profile(5))");
	}
	return 0;
}

bool profile_machine_is_q35(const char *machine)
{
	size_t n;

	if (strncmp(machine, "type=", 5) == 0)
		machine += 5;
	n = strcspn(machine, ",");
	return (n == 3 && strncmp(machine, "q35", 3) == 0) || strncmp(machine, "pc-q35-", 7) == 0;
}

static int firmware_type(json_object *v, const char *field, enum profile_firmware *ret, const char **ret_field,
			 char **ret_msg)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return bad(ret_field, ret_msg, field, "expected \"bios\" or \"uefi\", got %s", shown(v));
	s = json_object_get_string(v);
	for (int i = 0; i < PROFILE_FIRMWARE_MAX; i++)
		if (strcmp(s, firmware_names[i]) == 0) {
			*ret = (enum profile_firmware)i;
			return 0;
		}
	return bad(ret_field, ret_msg, field, "expected \"bios\" or \"uefi\", got %s", shown(v));
}

int profile_firmware_parse(json_object *v, struct profile *p, bool machine_given, const char **ret_field,
			   char **ret_msg)
{
	json_object *t;
	int r;

	p->firmware = PROFILE_FIRMWARE_BIOS;
	p->secure_boot = false;
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return firmware_type(v, "firmware", &p->firmware, ret_field, ret_msg);
	if ((r = check_object_keys(v, "firmware", profile_firmware_keys, ret_field, ret_msg)) < 0)
		return r;
	/* The object form is there for UEFI's options: its type is UEFI unless it says otherwise. */
	p->firmware = PROFILE_FIRMWARE_UEFI;
	if (json_object_object_get_ex(v, "type", &t) &&
	    (r = firmware_type(t, "firmware.type", &p->firmware, ret_field, ret_msg)) < 0)
		return r;
	if (json_object_object_get_ex(v, "secure_boot", &t)) {
		if (!json_object_is_type(t, json_type_boolean))
			return bad(ret_field, ret_msg, "firmware.secure_boot", "expected true or false, got %s",
				   shown(t));
		p->secure_boot = json_object_get_boolean(t);
	}
	if (p->secure_boot && p->firmware != PROFILE_FIRMWARE_UEFI)
		return bad(ret_field, ret_msg, "firmware.secure_boot", "Secure Boot is UEFI's; set \"type\": \"uefi\"");
	if (!p->secure_boot)
		return 0;
	/* OVMF keeps its Secure Boot variables safe from the guest only with SMM, which only q35 has. */
	if (!machine_given) {
		char *q35 = strdup("q35");

		if (!q35)
			return -ENOMEM;
		free(p->machine);
		p->machine = q35;
	} else if (!profile_machine_is_q35(p->machine))
		return bad(
		    ret_field, ret_msg, "firmware.secure_boot",
		    "Secure Boot needs the q35 machine (with SMM), not \"%s\"; set \"machine\": \"q35\" or remove "
		    "\"machine\"",
		    p->machine);
	return 0;
}

int profile_tpm_parse(json_object *v, struct profile *p, const char **ret_field, char **ret_msg)
{
	json_object *t;
	const char *s;
	int r;

	p->tpm = PROFILE_TPM_NONE;
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_boolean)) {
		p->tpm = json_object_get_boolean(v) ? PROFILE_TPM_2_0 : PROFILE_TPM_NONE;
		return 0;
	}
	if (!json_object_is_type(v, json_type_object))
		return bad(ret_field, ret_msg, "tpm", "expected true, false or {\"version\": \"2.0\"}, got %s",
			   shown(v));
	if ((r = check_object_keys(v, "tpm", profile_tpm_keys, ret_field, ret_msg)) < 0)
		return r;
	p->tpm = PROFILE_TPM_2_0;
	if (!json_object_object_get_ex(v, "version", &t))
		return 0;
	s = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : "";
	if (strcmp(s, "2.0") == 0 || strcmp(s, "2") == 0)
		p->tpm = PROFILE_TPM_2_0;
	else if (strcmp(s, "1.2") == 0)
		p->tpm = PROFILE_TPM_1_2;
	else
		return bad(ret_field, ret_msg, "tpm.version", "expected \"2.0\" or \"1.2\", got %s", shown(t));
	return 0;
}
