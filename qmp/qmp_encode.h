/* SPDX-License-Identifier: MIT */
/*
 * Encoding of QMP messages, one JSON object per line ending in "\r\n", with the framing the reader expects. The server
 * side (greeting, replies, events) serves vgpuvm's own control socket; the command encoder serves qmp_client. json-c
 * escapes control characters in strings, so a message is always exactly one line.
 */
#pragma once

#include <stdint.h>

struct json_object;

/*
 * {"QMP": {"version": {"qemu": {"micro": u, "minor": m, "major": M}, "package": "<product> <version>"},
 * "capabilities": []}}. The numbers are parsed from version ("0.1.0"; missing parts are 0), so that clients written
 * for QEMU's greeting, which read version.qemu, work unchanged; the package string names the product. version may be
 * NULL (then the numbers are 0 and the package is the product alone). -EINVAL if product is NULL, -ENOMEM.
 */
int qmp_encode_greeting(const char *product, const char *version, char **ret);

/* {"return": value, "id": id}. Both are borrowed; id NULL leaves out "id", value NULL sends {}. -ENOMEM. */
int qmp_encode_return(struct json_object *id, struct json_object *value, char **ret);

/* {"id": id, "error": {"class": class, "desc": desc}}, in QEMU's member order. -EINVAL if class or desc is NULL. */
int qmp_encode_error(struct json_object *id, const char *class, const char *desc, char **ret);

/*
 * {"timestamp": {"seconds": s, "microseconds": us}, "event": event, "data": data}, the timestamp taken from
 * realtime_usec (CLOCK_REALTIME in microseconds, as QEMU stamps events). data is borrowed; NULL leaves it out.
 * -EINVAL if event is NULL or empty.
 */
int qmp_encode_event(const char *event, struct json_object *data, uint64_t realtime_usec, char **ret);

/*
 * {"execute": command, "arguments": args, "id": id}, as a client sends it. args and id are borrowed; NULL leaves the
 * member out. -EINVAL if command is NULL or empty, or args is not an object.
 */
int qmp_encode_command(const char *command, struct json_object *args, struct json_object *id, char **ret);
