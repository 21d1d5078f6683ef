/* SPDX-License-Identifier: MIT */
/*
 * The host's USB devices a profile gives the guest. Only what the profile says is checked here: whether a device with
 * that id or on that port is plugged in is for the supervisor to find out when the VM starts (host/usb.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "profiles/profile_field.h"
#include "profiles/profile_usb.h"

const char *const profile_usb_keys[] = { "id", "serial", "port", NULL };

/* The longest serial number a USB string descriptor holds: 126 UTF-16 code units. */
#define USB_SERIAL_MAX 126
/* A port path is at most the root port and six hubs deep (USB 2.0, 4.1.1). */
#define USB_PORT_DEPTH_MAX 7

int profile_usb_parse_id(const char *s, uint16_t *ret_vendor, uint16_t *ret_product)
{
	unsigned v[2] = {};

	if (strlen(s) != 9 || s[4] != ':')
		return -EINVAL;
	for (size_t i = 0; i < 9; i++)
		if (i != 4 && !isxdigit((unsigned char)s[i]))
			return -EINVAL;
	if (sscanf(s, "%4x:%4x", &v[0], &v[1]) != 2)
		return -EINVAL;
	*ret_vendor = (uint16_t)v[0];
	*ret_product = (uint16_t)v[1];
	return 0;
}

/* One number of a port path: 1-255, no leading zero, no sign. Returns the byte after it, or NULL. */
static const char *port_number(const char *s)
{
	unsigned n = 0;
	size_t len = 0;

	if (*s == '0')
		return NULL;
	for (; isdigit((unsigned char)*s); s++, len++) {
		n = n * 10 + (unsigned)(*s - '0');
		if (len >= 3 || n > 255)
			return NULL;
	}
	return len ? s : NULL;
}

bool profile_usb_port_valid(const char *s)
{
	unsigned depth = 0;

	if (!(s = port_number(s)) || *s != '-')
		return false;
	s++;
	for (;;) {
		if (!(s = port_number(s)) || ++depth > USB_PORT_DEPTH_MAX)
			return false;
		if (!*s)
			return true;
		if (*s != '.')
			return false;
		s++;
	}
}

static bool serial_valid(const char *s)
{
	if (strlen(s) > USB_SERIAL_MAX)
		return false;
	for (; *s; s++)
		if (!isprint((unsigned char)*s))
			return false;
	return true;
}

static int parse_entry(struct profile_parse_ctx *c, json_object *o, const char *prefix, struct profile_usb *u)
{
	_cleanup_free_ char *id = NULL;
	char field[64];
	json_object *v;
	bool has_id, has_port;
	int r;

	if ((r = profile_field_object(c, o, prefix)) < 0 ||
	    (r = profile_field_keys(c, o, prefix, profile_usb_keys)) < 0)
		return r;
	has_id = json_object_object_get_ex(o, "id", NULL);
	has_port = json_object_object_get_ex(o, "port", NULL);
	if (has_id == has_port)
		return profile_field_fail(c, prefix,
					  "name the device by its id, {\"id\": \"046d:c52b\"} (lsusb shows it), or by "
					  "where it is plugged in, {\"port\": \"1-2\"}: one of the two");
	if (has_id) {
		snprintf(field, sizeof(field), "%s.id", prefix);
		json_object_object_get_ex(o, "id", &v);
		if ((r = profile_field_string(c, v, field, &id)) < 0)
			return r;
		if (profile_usb_parse_id(id, &u->vendor, &u->product) < 0)
			return profile_field_fail(c, field,
						  "expected VENDOR:PRODUCT in hexadecimal as lsusb shows it, like "
						  "\"046d:c52b\", got \"%s\"",
						  id);
		snprintf(u->id, sizeof(u->id), "%04x:%04x", u->vendor, u->product);
	}
	snprintf(field, sizeof(field), "%s.serial", prefix);
	if (json_object_object_get_ex(o, "serial", &v)) {
		if (!has_id)
			return profile_field_fail(c, field,
						  "a port names one device already; \"serial\" goes with \"id\"");
		if ((r = profile_field_string(c, v, field, &u->serial)) < 0)
			return r;
		if (!serial_valid(u->serial))
			return profile_field_fail(
			    c, field,
			    "expected the serial number as `lsusb -v` shows it (iSerial): at most "
			    "%d printable ASCII characters",
			    USB_SERIAL_MAX);
	}
	snprintf(field, sizeof(field), "%s.port", prefix);
	if (has_port) {
		json_object_object_get_ex(o, "port", &v);
		if ((r = profile_field_string(c, v, field, &u->port)) < 0)
			return r;
		if (!profile_usb_port_valid(u->port))
			return profile_field_fail(c, field,
						  "expected BUS-PORT[.PORT]... as /sys/bus/usb/devices names it, like "
						  "\"1-2\" or \"3-1.4\", got \"%s\"",
						  u->port);
	}
	return 0;
}

/* Two entries that name the same device would give QEMU one device twice, and the second would fail. */
static bool same(const struct profile_usb *a, const struct profile_usb *b)
{
	if (a->port || b->port)
		return a->port && b->port && strcmp(a->port, b->port) == 0;
	if (a->vendor != b->vendor || a->product != b->product)
		return false;
	return !a->serial || !b->serial || strcmp(a->serial, b->serial) == 0;
}

int profile_usb_parse(struct profile_parse_ctx *c, json_object *v, struct profile *p)
{
	char buf[64];
	size_t n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return profile_field_fail(c, "usb", "expected a list of devices [{\"id\": \"046d:c52b\"}, ...], got %s",
					  profile_field_show(v, buf, sizeof(buf)));
	n = json_object_array_length(v);
	if (n > PROFILE_USB_MAX)
		return profile_field_fail(c, "usb", "at most %d devices", PROFILE_USB_MAX);
	p->usb = calloc(n ? n : 1, sizeof(*p->usb));
	if (!p->usb)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char prefix[32];

		p->n_usb = i + 1;
		snprintf(prefix, sizeof(prefix), "usb[%zu]", i);
		if ((r = parse_entry(c, json_object_array_get_idx(v, i), prefix, &p->usb[i])) < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (same(&p->usb[j], &p->usb[i]))
				return profile_field_fail(c, prefix,
							  "usb[%zu] names this device already; give each device once "
							  "(two alike ones by \"serial\" or \"port\")",
							  j);
	}
	return 0;
}
