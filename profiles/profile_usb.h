/* SPDX-License-Identifier: MIT */
/* The profile's "usb": the host's USB devices the guest gets, each by its vendor:product id or by where it is plugged.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct profile;
struct profile_parse_ctx;

/* The keys of one "usb" entry (for profile_foreach_key and "did you mean"). */
extern const char *const profile_usb_keys[];

/* Parses the "usb" list v into p->usb. */
int profile_usb_parse(struct profile_parse_ctx *c, json_object *v, struct profile *p);

/* "046d:c52b" into *ret_vendor and *ret_product: 0 or -EINVAL. */
int profile_usb_parse_id(const char *s, uint16_t *ret_vendor, uint16_t *ret_product);

/* Whether s names a USB port as sysfs does: "BUS-PORT[.PORT]...", as "1-2" or "3-1.4" (at most 7 ports deep). */
bool profile_usb_port_valid(const char *s);
