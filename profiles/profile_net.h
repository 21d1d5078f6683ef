/* SPDX-License-Identifier: MIT */
/* The profile's "net": its NICs, their MACs and the taps named after the VM. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct profile;
struct profile_parse_ctx;

/* The keys of one "net" entry and of one of its "forward" entries (for profile_foreach_key and "did you mean"). */
extern const char *const profile_net_keys[];
extern const char *const profile_forward_keys[];

/* Parses the "net" list v into p->nics; p->name must be set (it derives the MACs and the taps' names). */
int profile_net_parse(struct profile_parse_ctx *c, json_object *v, struct profile *p);

/* Whether s can name a network interface: 1-15 bytes, not "." or "..", no '/', ':', ',' or white space. */
bool profile_ifname_valid(const char *s);

/*
 * The name of the tap vgpuvm makes for NIC index of the VM called name: "NAME-tI" when that fits in 15 bytes, else
 * the name's start, 4 hexadecimal digits of a hash of the whole name, and "-tI", so that two long names that start
 * alike still get taps of their own. buf holds PROFILE_IFNAME_MAX + 1 bytes.
 */
void profile_net_tap_name(const char *name, unsigned index, char *buf);

/* "52:54:00:12:34:56" into buf, which holds 18 bytes. */
void profile_net_format_mac(const uint8_t mac[6], char *buf);

/* The NICs as the control socket's status shows them (vgpuvm-control(7)): a new JSON array, or NULL. */
json_object *profile_net_to_json(const struct profile *p);
