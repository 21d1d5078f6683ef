/* SPDX-License-Identifier: MIT */
/*
 * The guest's input devices, its sound card, how it boots and its agent's channel. Each default is what a desktop guest
 * wants (a tablet where there is a window to point into) and nothing where there is no use for it (no sound card unless
 * asked).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "profiles/profile_devices.h"
#include "profiles/profile_field.h"

const char *const profile_input_keys[] = { "tablet", "keyboard", NULL };
const char *const profile_boot_keys[] = { "kernel", "initrd", "cmdline", "order", "menu", NULL };

/* The displays that are a window on this host, where an absolute pointer saves grabbing the mouse. */
static bool has_window(const struct profile *p)
{
	switch (p->display.type) {
	case PROFILE_DISPLAY_GTK:
	case PROFILE_DISPLAY_SPICE_APP:
	case PROFILE_DISPLAY_SPICE:
	case PROFILE_DISPLAY_DBUS:
		return true;
	default:
		return false;
	}
}

static int parse_input(struct profile_parse_ctx *c, json_object *o, struct profile *p)
{
	json_object *v;
	int r;

	if ((r = profile_field_object(c, o, "input")) < 0 ||
	    (r = profile_field_keys(c, o, "input", profile_input_keys)) < 0)
		return r;
	if (json_object_object_get_ex(o, "tablet", &v) &&
	    (r = profile_field_bool(c, v, "input.tablet", &p->input.tablet)) < 0)
		return r;
	if (json_object_object_get_ex(o, "keyboard", &v)) {
		_cleanup_free_ char *s = NULL;

		if ((r = profile_field_string(c, v, "input.keyboard", &s)) < 0)
			return r;
		for (p->input.keyboard = 0; p->input.keyboard < PROFILE_KEYBOARD_MAX; p->input.keyboard++)
			if (strcmp(s, profile_keyboard_to_string(p->input.keyboard)) == 0)
				break;
		if (p->input.keyboard == PROFILE_KEYBOARD_MAX)
			return profile_field_fail(
			    c, "input.keyboard",
			    "expected \"ps2\" (the machine's own, the default) or \"virtio\", got \"%s\"", s);
	}
	return 0;
}

static int parse_audio(struct profile_parse_ctx *c, json_object *v, struct profile *p)
{
	_cleanup_free_ char *s = NULL;
	int r;

	if ((r = profile_field_string(c, v, "audio", &s)) < 0)
		return r;
	for (p->audio = PROFILE_AUDIO_OFF + 1; p->audio < PROFILE_AUDIO_MAX; p->audio++)
		if (strcmp(s, profile_audio_to_string(p->audio)) == 0)
			break;
	if (p->audio == PROFILE_AUDIO_MAX)
		return profile_field_fail(
		    c, "audio",
		    "expected \"pa\" (the session's PulseAudio or PipeWire), \"alsa\", "
		    "\"spice\" or \"none\" (a sound card that plays nowhere); leave it out for no sound "
		    "card, got \"%s\"",
		    s);
	/* SPICE's audio channel exists only with a SPICE display. */
	if (p->audio == PROFILE_AUDIO_SPICE && p->display.type != PROFILE_DISPLAY_SPICE_APP &&
	    p->display.type != PROFILE_DISPLAY_SPICE)
		return profile_field_fail(c, "audio",
					  "\"spice\" plays through a SPICE display, and this one is \"%s\"; set "
					  "\"display\": {\"type\": \"spice\"} or \"spice-app\", or use \"pa\"",
					  profile_display_type_to_string(p->display.type));
	return 0;
}

static int parse_order(struct profile_parse_ctx *c, json_object *a, struct profile *p)
{
	struct profile_boot *b = &p->boot;
	char buf[64];
	size_t n;

	if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) == 0)
		return profile_field_fail(c, "boot.order", "expected a list like [\"cdrom\", \"disk\"], got %s",
					  profile_field_show(a, buf, sizeof(buf)));
	n = json_object_array_length(a);
	if (n > PROFILE_BOOT_DEVICE_MAX)
		return profile_field_fail(c, "boot.order",
					  "names a device twice; each of \"disk\", \"cdrom\" and "
					  "\"network\" at most once");
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		_cleanup_free_ char *s = NULL;
		enum profile_boot_device d;
		char field[32];
		int r;

		snprintf(field, sizeof(field), "boot.order[%zu]", i);
		if ((r = profile_field_string(c, v, field, &s)) < 0)
			return r;
		for (d = 0; d < PROFILE_BOOT_DEVICE_MAX; d++)
			if (strcmp(s, profile_boot_device_to_string(d)) == 0)
				break;
		if (d == PROFILE_BOOT_DEVICE_MAX)
			return profile_field_fail(c, field, "expected \"disk\", \"cdrom\" or \"network\", got \"%s\"",
						  s);
		for (size_t j = 0; j < i; j++)
			if (b->order[j] == d)
				return profile_field_fail(c, field, "\"%s\" is in the list already", s);
		/* A device the VM does not have would be skipped by the firmware: most likely a slip. */
		if ((d == PROFILE_BOOT_DISK && p->n_disks == 0) || (d == PROFILE_BOOT_CDROM && !p->cdrom) ||
		    (d == PROFILE_BOOT_NETWORK && p->n_nics == 0))
			return profile_field_fail(c, field, "the VM has no %s; add %s or remove it from the list", s,
						  d == PROFILE_BOOT_DISK    ? "\"disks\""
						  : d == PROFILE_BOOT_CDROM ? "\"cdrom\""
									    : "\"net\"");
		b->order[i] = d;
		b->n_order = i + 1;
	}
	return 0;
}

static int parse_boot(struct profile_parse_ctx *c, json_object *o, struct profile *p)
{
	struct profile_boot *b = &p->boot;
	bool has_menu = false;
	json_object *v;
	int r;

	if ((r = profile_field_object(c, o, "boot")) < 0 ||
	    (r = profile_field_keys(c, o, "boot", profile_boot_keys)) < 0)
		return r;
	if (json_object_object_get_ex(o, "kernel", &v) &&
	    (r = profile_field_string(c, v, "boot.kernel", &b->kernel)) < 0)
		return r;
	if (json_object_object_get_ex(o, "initrd", &v) &&
	    (r = profile_field_string(c, v, "boot.initrd", &b->initrd)) < 0)
		return r;
	if (json_object_object_get_ex(o, "cmdline", &v) &&
	    (r = profile_field_string(c, v, "boot.cmdline", &b->cmdline)) < 0)
		return r;
	if (json_object_object_get_ex(o, "order", &v) && (r = parse_order(c, v, p)) < 0)
		return r;
	if (json_object_object_get_ex(o, "menu", &v)) {
		if ((r = profile_field_bool(c, v, "boot.menu", &b->menu)) < 0)
			return r;
		has_menu = true;
	}

	if (!b->kernel && (b->initrd || b->cmdline))
		return profile_field_fail(c, b->initrd ? "boot.initrd" : "boot.cmdline",
					  "goes with a kernel QEMU boots directly; add \"kernel\" to \"boot\"");
	/* QEMU boots the kernel itself: the firmware's order and menu are never used. */
	if (b->kernel && (b->n_order || has_menu))
		return profile_field_fail(c, b->n_order ? "boot.order" : "boot.menu",
					  "the firmware's boot order and menu are not used when QEMU boots \"kernel\" "
					  "directly; remove one or the other");
	return 0;
}

int profile_devices_parse(struct profile_parse_ctx *c, json_object *root, struct profile *p)
{
	json_object *v;
	int r;

	p->input.tablet = has_window(p);
	p->input.keyboard = PROFILE_KEYBOARD_PS2;
	if (json_object_object_get_ex(root, "input", &v) && (r = parse_input(c, v, p)) < 0)
		return r;
	p->audio = PROFILE_AUDIO_OFF;
	if (json_object_object_get_ex(root, "audio", &v) && !json_object_is_type(v, json_type_null) &&
	    (r = parse_audio(c, v, p)) < 0)
		return r;
	if (json_object_object_get_ex(root, "boot", &v) && (r = parse_boot(c, v, p)) < 0)
		return r;
	if (json_object_object_get_ex(root, "agent", &v) && (r = profile_field_bool(c, v, "agent", &p->agent)) < 0)
		return r;
	return 0;
}
