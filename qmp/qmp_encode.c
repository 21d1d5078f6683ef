/* SPDX-License-Identifier: MIT */
/*
 * QMP message encoders. Members are added in the order QEMU itself writes them, so that vgpuvm's control socket reads
 * like QEMU's to a human watching with socat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp/qmp_encode.h"
#include "util/json.h"
#include "util/macro.h"

/* Adds v, which the call owns whatever happens; a NULL v is a failed allocation by the caller. */
static int add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* Adds a borrowed value, if there is one: the tree takes its own reference. */
static int add_borrowed(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return 0;
	return add(o, key, json_object_get(v));
}

/* Serialises o on one line and appends the "\r\n" that ends every QMP message. */
static int finish(struct json_object *o, char **ret)
{
	const char *s;
	size_t n;
	char *p;

	/* Without NOSLASHESCAPE json-c writes "/" as "\/", which is valid but not what QEMU sends. */
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	p = malloc(n + 3);
	if (!p)
		return -ENOMEM;
	memcpy(p, s, n);
	memcpy(p + n, "\r\n", 3);
	*ret = p;
	return 0;
}

/* Reads "M.m.u" leniently: parsing stops at the first part that is not a number ("1.2-rc1" is 1.2.0). */
static void parse_version(const char *version, int64_t parts[3])
{
	const char *p = version;

	for (int i = 0; i < 3 && p; i++) {
		char *end;
		unsigned long long v;

		if (*p < '0' || *p > '9')
			break;
		v = strtoull(p, &end, 10);
		parts[i] = v > INT32_MAX ? INT32_MAX : (int64_t)v;
		p = *end == '.' ? end + 1 : NULL;
	}
}

int qmp_encode_greeting(const char *product, const char *version, char **ret)
{
	_cleanup_json_ struct json_object *root = NULL;
	_cleanup_free_ char *package = NULL;
	struct json_object *qmp, *ver, *qemu;
	int64_t parts[3] = { 0, 0, 0 };
	int k;

	if (!product)
		return -EINVAL;
	if (version) {
		parse_version(version, parts);
		if (asprintf(&package, "%s %s", product, version) < 0)
			return -ENOMEM;
	} else {
		package = strdup(product);
		if (!package)
			return -ENOMEM;
	}

	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	/* Each object is linked into the tree as soon as it exists, so the tree's cleanup frees everything. */
	k = add(root, "QMP", qmp = json_object_new_object());
	if (k < 0)
		return k;
	k = add(qmp, "version", ver = json_object_new_object());
	if (k < 0)
		return k;
	k = add(ver, "qemu", qemu = json_object_new_object());
	if (k < 0)
		return k;
	k = add(qemu, "micro", json_object_new_int64(parts[2]));
	if (k >= 0)
		k = add(qemu, "minor", json_object_new_int64(parts[1]));
	if (k >= 0)
		k = add(qemu, "major", json_object_new_int64(parts[0]));
	if (k >= 0)
		k = add(ver, "package", json_object_new_string(package));
	if (k >= 0)
		k = add(qmp, "capabilities", json_object_new_array());
	if (k < 0)
		return k;
	return finish(root, ret);
}

int qmp_encode_return(struct json_object *id, struct json_object *value, char **ret)
{
	_cleanup_json_ struct json_object *root = NULL;
	int k;

	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	k = value ? add_borrowed(root, "return", value) : add(root, "return", json_object_new_object());
	if (k >= 0)
		k = add_borrowed(root, "id", id);
	if (k < 0)
		return k;
	return finish(root, ret);
}

int qmp_encode_error(struct json_object *id, const char *class, const char *desc, char **ret)
{
	_cleanup_json_ struct json_object *root = NULL;
	struct json_object *error;
	int k;

	if (!class || !desc)
		return -EINVAL;
	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	k = add_borrowed(root, "id", id);
	if (k >= 0)
		k = add(root, "error", error = json_object_new_object());
	if (k < 0)
		return k;
	k = add(error, "class", json_object_new_string(class));
	if (k >= 0)
		k = add(error, "desc", json_object_new_string(desc));
	if (k < 0)
		return k;
	return finish(root, ret);
}

int qmp_encode_event(const char *event, struct json_object *data, uint64_t realtime_usec, char **ret)
{
	_cleanup_json_ struct json_object *root = NULL;
	struct json_object *ts;
	int k;

	if (!event || !*event)
		return -EINVAL;
	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	k = add(root, "timestamp", ts = json_object_new_object());
	if (k < 0)
		return k;
	k = add(ts, "seconds", json_object_new_int64((int64_t)(realtime_usec / 1000000)));
	if (k >= 0)
		k = add(ts, "microseconds", json_object_new_int64((int64_t)(realtime_usec % 1000000)));
	if (k >= 0)
		k = add(root, "event", json_object_new_string(event));
	if (k >= 0)
		k = add_borrowed(root, "data", data);
	if (k < 0)
		return k;
	return finish(root, ret);
}

int qmp_encode_command(const char *command, struct json_object *args, struct json_object *id, char **ret)
{
	_cleanup_json_ struct json_object *root = NULL;
	int k;

	if (!command || !*command)
		return -EINVAL;
	if (args && !json_object_is_type(args, json_type_object))
		return -EINVAL;
	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	k = add(root, "execute", json_object_new_string(command));
	if (k >= 0)
		k = add_borrowed(root, "arguments", args);
	if (k >= 0)
		k = add_borrowed(root, "id", id);
	if (k < 0)
		return k;
	return finish(root, ret);
}
