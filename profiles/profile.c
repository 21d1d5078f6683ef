/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "util/macro.h"

static const char *const accel_names[PROFILE_ACCEL_MAX] = {
	[PROFILE_ACCEL_KVM] = "kvm",
	[PROFILE_ACCEL_TCG] = "tcg",
};

static const char *const display_names[PROFILE_DISPLAY_MAX] = {
	[PROFILE_DISPLAY_GTK] = "gtk",
	[PROFILE_DISPLAY_EGL_HEADLESS] = "egl-headless",
	[PROFILE_DISPLAY_SPICE_APP] = "spice-app",
	[PROFILE_DISPLAY_VNC] = "vnc",
	[PROFILE_DISPLAY_DBUS] = "dbus",
	[PROFILE_DISPLAY_NONE] = "none",
	[PROFILE_DISPLAY_SPICE] = "spice",
};

static const char *const interface_names[PROFILE_DISK_INTERFACE_MAX] = {
	[PROFILE_DISK_VIRTIO] = "virtio",
	[PROFILE_DISK_IDE] = "ide",
};

static const char *const restart_names[PROFILE_RESTART_MAX] = {
	[PROFILE_RESTART_NO] = "no",
	[PROFILE_RESTART_ON_FAILURE] = "on-failure",
	[PROFILE_RESTART_ALWAYS] = "always",
};

const char *profile_restart_to_string(enum profile_restart r)
{
	return r < PROFILE_RESTART_MAX ? restart_names[r] : NULL;
}

static const char *const sandbox_part_names[PROFILE_SANDBOX_PART_MAX] = {
	[PROFILE_SANDBOX_OBSOLETE] = "obsolete",
	[PROFILE_SANDBOX_ELEVATEPRIVILEGES] = "elevateprivileges",
	[PROFILE_SANDBOX_SPAWN] = "spawn",
	[PROFILE_SANDBOX_RESOURCECONTROL] = "resourcecontrol",
};

static const char *const sandbox_action_names[PROFILE_SANDBOX_ACTION_MAX] = {
	[PROFILE_SANDBOX_DENY] = "deny",
	[PROFILE_SANDBOX_ALLOW] = "allow",
	[PROFILE_SANDBOX_CHILDREN] = "children",
};

const char *profile_sandbox_part_to_string(enum profile_sandbox_part part)
{
	return part < PROFILE_SANDBOX_PART_MAX ? sandbox_part_names[part] : NULL;
}

const char *profile_sandbox_action_to_string(enum profile_sandbox_action a)
{
	return a < PROFILE_SANDBOX_ACTION_MAX ? sandbox_action_names[a] : NULL;
}

static unsigned lookup(const char *const *names, unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (s && strcmp(names[i], s) == 0)
			return i;
	return n;
}

const char *profile_accel_to_string(enum profile_accel a)
{
	return a < PROFILE_ACCEL_MAX ? accel_names[a] : NULL;
}

enum profile_accel profile_accel_from_string(const char *s)
{
	return lookup(accel_names, PROFILE_ACCEL_MAX, s);
}

const char *profile_display_type_to_string(enum profile_display_type t)
{
	return t < PROFILE_DISPLAY_MAX ? display_names[t] : NULL;
}

enum profile_display_type profile_display_type_from_string(const char *s)
{
	return lookup(display_names, PROFILE_DISPLAY_MAX, s);
}

const char *profile_disk_interface_to_string(enum profile_disk_interface i)
{
	return i < PROFILE_DISK_INTERFACE_MAX ? interface_names[i] : NULL;
}

enum profile_disk_interface profile_disk_interface_from_string(const char *s)
{
	return lookup(interface_names, PROFILE_DISK_INTERFACE_MAX, s);
}

static const char *const nic_type_names[PROFILE_NIC_TYPE_MAX] = {
	[PROFILE_NIC_USER] = "user",
	[PROFILE_NIC_BRIDGE] = "bridge",
	[PROFILE_NIC_TAP] = "tap",
};

static const char *const forward_proto_names[PROFILE_FORWARD_PROTO_MAX] = {
	[PROFILE_FORWARD_TCP] = "tcp",
	[PROFILE_FORWARD_UDP] = "udp",
};

static const char *const keyboard_names[PROFILE_KEYBOARD_MAX] = {
	[PROFILE_KEYBOARD_PS2] = "ps2",
	[PROFILE_KEYBOARD_VIRTIO] = "virtio",
};

static const char *const audio_names[PROFILE_AUDIO_MAX] = {
	[PROFILE_AUDIO_OFF] = NULL,	 [PROFILE_AUDIO_PA] = "pa",	[PROFILE_AUDIO_ALSA] = "alsa",
	[PROFILE_AUDIO_SPICE] = "spice", [PROFILE_AUDIO_NONE] = "none",
};

static const char *const boot_device_names[PROFILE_BOOT_DEVICE_MAX] = {
	[PROFILE_BOOT_DISK] = "disk",
	[PROFILE_BOOT_CDROM] = "cdrom",
	[PROFILE_BOOT_NETWORK] = "network",
};

const char *profile_nic_type_to_string(enum profile_nic_type t)
{
	return t < PROFILE_NIC_TYPE_MAX ? nic_type_names[t] : NULL;
}

const char *profile_forward_proto_to_string(enum profile_forward_proto p)
{
	return p < PROFILE_FORWARD_PROTO_MAX ? forward_proto_names[p] : NULL;
}

const char *profile_keyboard_to_string(enum profile_keyboard k)
{
	return k < PROFILE_KEYBOARD_MAX ? keyboard_names[k] : NULL;
}

const char *profile_audio_to_string(enum profile_audio a)
{
	return a < PROFILE_AUDIO_MAX ? audio_names[a] : NULL;
}

const char *profile_boot_device_to_string(enum profile_boot_device d)
{
	return d < PROFILE_BOOT_DEVICE_MAX ? boot_device_names[d] : NULL;
}

void profile_format_memory(uint64_t bytes, char *buf, size_t size)
{
	const uint64_t mib = UINT64_C(1) << 20, gib = UINT64_C(1) << 30;

	if (bytes % gib == 0)
		snprintf(buf, size, "%" PRIu64 "G", bytes / gib);
	else
		snprintf(buf, size, "%" PRIu64 "M", bytes / mib);
}

char *profile_summary(const struct profile *p)
{
	char mem[32], *s = NULL, vgpu[256] = "no vGPU";
	const char *disp = profile_display_type_to_string(p->display.type);

	profile_format_memory(p->memory, mem, sizeof(mem));
	if (p->vgpu)
		snprintf(vgpu, sizeof(vgpu), "vGPU %s on %s, uuid %s%s, display %s",
			 p->vgpu->type ?: "(the type of the existing mdev)",
			 p->vgpu->parent
			     ?: p->vgpu->type ? "(the one parent offering it)"
					      : "(its parent)",
			 p->vgpu->uuid, p->vgpu->uuid_auto ? " (derived from the name)" : "",
			 p->vgpu->display ? "on" : "off");
	if (asprintf(&s, "%s: %s, %u CPU%s, %s, %s%s%s%s%s; %s; window: %s%s", p->name, mem, p->cpus,
		     p->cpus == 1 ? "" : "s", p->machine, profile_accel_to_string(p->accel),
		     p->firmware == PROFILE_FIRMWARE_UEFI ? (p->secure_boot ? ", UEFI with Secure Boot" : ", UEFI")
							  : "",
		     p->tpm == PROFILE_TPM_NONE ? "" : ", TPM ",
		     p->tpm == PROFILE_TPM_1_2 ? "1.2"
		     : p->tpm		       ? "2.0"
					       : "",
		     p->agent ? ", guest agent" : "", vgpu, disp, p->display.gl ? " with GL" : "") < 0)
		return NULL;
	return s;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	free(p->path);
	free(p->name);
	free(p->machine);
	free(p->cpu);
	free(p->qemu);
	if (p->vgpu) {
		free(p->vgpu->parent);
		free(p->vgpu->type);
		free(p->vgpu);
	}
	free(p->display.rendernode);
	free(p->display.listen);
	free(p->display.password_file);
	free(p->serial_file);
	free(p->cdrom);
	free(p->user);
	free(p->group);
	for (size_t i = 0; i < p->n_disks; i++) {
		free(p->disks[i].file);
		free(p->disks[i].format);
	}
	free(p->disks);
	for (size_t i = 0; i < p->n_shares; i++) {
		free(p->shares[i].path);
		free(p->shares[i].tag);
	}
	free(p->shares);
	for (size_t i = 0; i < p->n_nics; i++) {
		free(p->nics[i].model);
		free(p->nics[i].bridge);
		free(p->nics[i].tap);
		free(p->nics[i].forwards);
	}
	free(p->nics);
	for (size_t i = 0; i < p->n_usb; i++) {
		free(p->usb[i].serial);
		free(p->usb[i].port);
	}
	free(p->usb);
	free(p->boot.kernel);
	free(p->boot.initrd);
	free(p->boot.cmdline);
	strv_free(p->env);
	strv_free(p->extra_args);
	free(p);
}
