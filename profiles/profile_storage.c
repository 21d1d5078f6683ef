/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profiles/profile.h"
#include "profiles/profile_storage.h"
#include "util/macro.h"

const char *const profile_share_keys[] = { "path", "tag", "readonly", NULL };

static int bad(char **ret_field, char **ret_msg, const char *field, const char *fmt, ...) _printf_(4, 5);

static int bad(char **ret_field, char **ret_msg, const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(ret_msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (ret_field && !(*ret_field = strdup(field))) {
		*ret_msg = mfree(*ret_msg);
		return -ENOMEM;
	}
	return -EINVAL;
}

static const char *shown(json_object *v)
{
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* A tag goes into QEMU's -device option and the guest's mount command: no comma, no space, nothing to quote. */
static bool tag_valid(const char *s)
{
	return *s && strlen(s) <= PROFILE_SHARE_TAG_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(s);
}

/*
 * A copy of a JSON string into *ret, which the profile owns from then on (profile_free()). GCC 12's analyzer loses
 * that ownership through p->shares[i] and calls the copy leaked.
 */
ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
static int take_string(json_object *v, char **ret)
{
	char *s = strdup(json_object_get_string(v));

	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}
ANALYZER_IGNORE_END

static int parse_share(json_object *o, size_t i, struct profile *p, char **ret_field, char **ret_msg)
{
	struct profile_share *s = &p->shares[i];
	char prefix[32], field[64];
	json_object *v;
	int r;

	snprintf(prefix, sizeof(prefix), "shares[%zu]", i);
	if (!json_object_is_type(o, json_type_object))
		return bad(ret_field, ret_msg, prefix, "expected an object {\"path\": ..., \"tag\": ...}, got %s",
			   shown(o));
	json_object_object_foreach(o, key, val)
	{
		bool known = false;

		(void)val;
		for (const char *const *k = profile_share_keys; *k && !known; k++)
			known = strcmp(*k, key) == 0;
		if (known)
			continue;
		snprintf(field, sizeof(field), "%s.%.20s", prefix, key);
		return bad(ret_field, ret_msg, field, "unknown key (see vgpuvm-profile(5))");
	}
	snprintf(field, sizeof(field), "%s.path", prefix);
	if (!json_object_object_get_ex(o, "path", &v))
		return bad(ret_field, ret_msg, field, "missing; name the host directory to share");
	if (!json_object_is_type(v, json_type_string) || json_object_get_string(v)[0] != '/')
		return bad(ret_field, ret_msg, field, "expected an absolute path, got %s", shown(v));
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return bad(ret_field, ret_msg, field, "a path has no NUL byte");
	if ((r = take_string(v, &s->path)) < 0)
		return r;
	snprintf(field, sizeof(field), "%s.tag", prefix);
	if (!json_object_object_get_ex(o, "tag", &v))
		return bad(ret_field, ret_msg, field, "missing; the guest mounts the share by this name");
	if (!json_object_is_type(v, json_type_string) || !tag_valid(json_object_get_string(v)))
		return bad(ret_field, ret_msg, field, "expected 1 to %d characters of A-Z a-z 0-9 . _ -, got %s",
			   PROFILE_SHARE_TAG_MAX, shown(v));
	if ((r = take_string(v, &s->tag)) < 0)
		return r;
	for (size_t k = 0; k < i; k++)
		if (strcmp(p->shares[k].tag, s->tag) == 0)
			return bad(ret_field, ret_msg, field, "\"%s\" is shares[%zu]'s tag already; each tag is unique",
				   s->tag, k);
	snprintf(field, sizeof(field), "%s.readonly", prefix);
	if (json_object_object_get_ex(o, "readonly", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return bad(ret_field, ret_msg, field, "expected true or false, got %s", shown(v));
		s->readonly = json_object_get_boolean(v);
	}
	return 0;
}

int profile_shares_parse(json_object *v, struct profile *p, char **ret_field, char **ret_msg)
{
	size_t n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return bad(ret_field, ret_msg, "shares", "expected a list [{\"path\": ..., \"tag\": ...}, ...], got %s",
			   shown(v));
	n = json_object_array_length(v);
	if (n > PROFILE_SHARES_MAX)
		return bad(ret_field, ret_msg, "shares", "at most %d shares, got %zu", PROFILE_SHARES_MAX, n);
	p->shares = calloc(n ? n : 1, sizeof(*p->shares));
	if (!p->shares)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p->n_shares = i + 1;
		if ((r = parse_share(json_object_array_get_idx(v, i), i, p, ret_field, ret_msg)) < 0)
			return r;
	}
	return 0;
}

int profile_disk_size_parse(json_object *v, uint64_t *ret, char **ret_msg)
{
	const char *hint = "expected a size in bytes, or like \"20G\" (K, M, G, T: powers of 1024)";
	uint64_t n = 0, mult = 1;
	const char *s, *e;

	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);

		if (i <= 0)
			return bad(NULL, ret_msg, NULL, "%s, got %s", hint, shown(v));
		n = (uint64_t)i;
	} else if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		/* Saturate rather than wrap, so that a huge number is reported as too large. */
		for (e = s; isdigit((unsigned char)*e); e++)
			n = n > PROFILE_DISK_SIZE_MAX ? n : n * 10 + (uint64_t)(*e - '0');
		if (e == s)
			return bad(NULL, ret_msg, NULL, "%s, got %s", hint, shown(v));
		if (*e) {
			const char *units = "KMGT", *u = strchr(units, toupper((unsigned char)*e));

			if (!u)
				return bad(NULL, ret_msg, NULL, "%s, got %s", hint, shown(v));
			mult = UINT64_C(1) << (10 * (u - units + 1));
			e++;
		}
		if (*e && strcasecmp(e, "iB") != 0 && strcasecmp(e, "B") != 0)
			return bad(NULL, ret_msg, NULL, "%s, got %s", hint, shown(v));
		if (n > PROFILE_DISK_SIZE_MAX / mult)
			return bad(NULL, ret_msg, NULL, "%s is more than 64T", s);
		n *= mult;
	} else
		return bad(NULL, ret_msg, NULL, "%s, got %s", hint, shown(v));
	if (n == 0 || n > PROFILE_DISK_SIZE_MAX)
		return bad(NULL, ret_msg, NULL, "%s must be more than 0 and at most 64T", shown(v));
	/* qemu-img would round up silently: the disk made is the size the profile says, or nothing is. */
	if (n % 512 != 0)
		return bad(NULL, ret_msg, NULL, "%s is not a whole number of 512-byte sectors", shown(v));
	*ret = n;
	return 0;
}
