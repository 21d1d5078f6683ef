/* SPDX-License-Identifier: MIT */
/*
 * What a VM is: the validated form of a profile. Everything here is plain data; profile_parse.c builds it from JSON and
 * profile_argv.c turns it into QEMU's command line.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest deadline a profile or a stop request may give, in seconds: a day. */
#define PROFILE_TIMEOUT_MAX 86400

enum profile_accel {
	PROFILE_ACCEL_KVM,
	PROFILE_ACCEL_TCG,
	PROFILE_ACCEL_MAX,
};

enum profile_display_type {
	PROFILE_DISPLAY_GTK,
	PROFILE_DISPLAY_EGL_HEADLESS,
	PROFILE_DISPLAY_SPICE_APP,
	PROFILE_DISPLAY_VNC,
	PROFILE_DISPLAY_DBUS,
	PROFILE_DISPLAY_NONE,
	PROFILE_DISPLAY_SPICE, /* SPICE on the supervisor's socket (or TCP with a password), for remote-viewer */
	PROFILE_DISPLAY_MAX,
};

enum profile_serial {
	PROFILE_SERIAL_STDIO,
	PROFILE_SERIAL_NONE,
	PROFILE_SERIAL_PTY,
	PROFILE_SERIAL_FILE,
	PROFILE_SERIAL_MAX,
};

enum profile_restart {
	PROFILE_RESTART_NO,
	PROFILE_RESTART_ON_FAILURE,
	PROFILE_RESTART_ALWAYS,
	PROFILE_RESTART_MAX,
};

enum profile_disk_interface {
	PROFILE_DISK_VIRTIO,
	PROFILE_DISK_IDE,
	PROFILE_DISK_INTERFACE_MAX,
};

#define PROFILE_UUID_STRING_MAX 37

struct profile_vgpu {
	char *parent;	/* PCI address or mdev_bus name; NULL: the one parent that offers the type */
	char *type;	/* NULL: the type of the mdev the UUID names, which is adopted (profile_set_vgpu_type()) */
	bool uuid_auto; /* the UUID was derived from the profile name */
	char uuid[PROFILE_UUID_STRING_MAX];
	bool display;
	bool ramfb;
	bool opregion;
	bool opregion_set; /* the profile says true or false; unset is QEMU's default (on for the iGPU from QEMU 10) */
	bool nohotplug;	   /* also true when ramfb asks for it */
	bool memlock;	   /* give QEMU RLIMIT_MEMLOCK = guest RAM + 1 GiB */
	unsigned xres, yres; /* 0: not set */
};

struct profile_display {
	enum profile_display_type type;
	bool gl;
	bool full_screen;
	char *rendernode;
	char *listen;	     /* VNC display, "HOST:N"; spice: "HOST:PORT", TCP instead of the unix socket */
	char *password_file; /* spice over TCP: the file whose first line is the password */
};

struct profile_disk {
	char *file;
	char *format;
	enum profile_disk_interface interface;
	bool readonly;
	bool snapshot;
	uint64_t size; /* bytes: made at this size when the file does not exist; 0: it must exist */
};

/* A host directory the guest mounts through virtiofs ("shares"). */
struct profile_share {
	char *path; /* absolute */
	char *tag;  /* what the guest mounts: mount -t virtiofs TAG /mnt */
	bool readonly;
};

/* QEMU's own seccomp sandbox (-sandbox on,...): each part denied unless the profile relaxes it. */
enum profile_sandbox_part {
	PROFILE_SANDBOX_OBSOLETE,
	PROFILE_SANDBOX_ELEVATEPRIVILEGES,
	PROFILE_SANDBOX_SPAWN,
	PROFILE_SANDBOX_RESOURCECONTROL,
	PROFILE_SANDBOX_PART_MAX,
};

enum profile_sandbox_action {
	PROFILE_SANDBOX_DENY,
	PROFILE_SANDBOX_ALLOW,
	PROFILE_SANDBOX_CHILDREN, /* elevateprivileges only: allowed for QEMU, denied for what it spawns */
	PROFILE_SANDBOX_ACTION_MAX,
};

/* A NIC's backend. */
enum profile_nic_type {
	PROFILE_NIC_USER,   /* QEMU's user networking (slirp) */
	PROFILE_NIC_BRIDGE, /* a tap vgpuvm makes on a bridge */
	PROFILE_NIC_TAP,    /* a tap the user made */
	PROFILE_NIC_TYPE_MAX,
};

enum profile_forward_proto {
	PROFILE_FORWARD_TCP,
	PROFILE_FORWARD_UDP,
	PROFILE_FORWARD_PROTO_MAX,
};

/* A host port forwarded to the guest through user networking. */
struct profile_forward {
	enum profile_forward_proto proto;
	char address[16]; /* the host address, an IPv4 literal: "127.0.0.1" unless the profile says otherwise */
	unsigned host;	  /* host port */
	unsigned guest;	  /* guest port */
};

#define PROFILE_NICS_MAX 8
#define PROFILE_FORWARDS_MAX 32
/* A network interface name's longest length (IFNAMSIZ less its NUL). */
#define PROFILE_IFNAME_MAX 15

struct profile_nic {
	enum profile_nic_type type;
	char *model; /* the QEMU device: "virtio-net-pci", "e1000e", ... */
	uint8_t mac[6];
	bool mac_auto;			  /* derived from the VM's name and the NIC's index */
	char *bridge;			  /* bridge: the bridge the tap goes on */
	char *tap;			  /* bridge: the tap vgpuvm makes (named after the VM); tap: the user's */
	struct profile_forward *forwards; /* user only */
	size_t n_forwards;
};

enum profile_keyboard {
	PROFILE_KEYBOARD_PS2, /* the machine's own i8042: nothing to add */
	PROFILE_KEYBOARD_VIRTIO,
	PROFILE_KEYBOARD_MAX,
};

struct profile_input {
	bool tablet; /* usb-tablet on a qemu-xhci controller: an absolute pointer, no grab */
	enum profile_keyboard keyboard;
};

/* A host USB device for the guest: by id (and serial, when two alike are plugged in), or by port. */
struct profile_usb {
	char id[10];	 /* "046d:c52b", lower case; "" when by port */
	uint16_t vendor; /* with id */
	uint16_t product;
	char *serial; /* NULL: any device with the id, which must then be the only one */
	char *port;   /* "1-2", as /sys/bus/usb/devices names it; NULL: by id */
};

#define PROFILE_USB_MAX 16

enum profile_audio {
	PROFILE_AUDIO_OFF, /* no sound device at all */
	PROFILE_AUDIO_PA,
	PROFILE_AUDIO_ALSA,
	PROFILE_AUDIO_SPICE,
	PROFILE_AUDIO_NONE, /* a sound card whose sound goes nowhere */
	PROFILE_AUDIO_MAX,
};

enum profile_boot_device {
	PROFILE_BOOT_DISK,
	PROFILE_BOOT_CDROM,
	PROFILE_BOOT_NETWORK,
	PROFILE_BOOT_DEVICE_MAX,
};

struct profile_boot {
	char *kernel; /* direct kernel boot; NULL: the firmware boots a disk */
	char *initrd;
	char *cmdline;
	enum profile_boot_device order[PROFILE_BOOT_DEVICE_MAX];
	size_t n_order; /* 0: QEMU's default order */
	bool menu;
};

/* The firmware QEMU boots: SeaBIOS (QEMU's own), or UEFI from QEMU's firmware descriptors. */
enum profile_firmware {
	PROFILE_FIRMWARE_BIOS,
	PROFILE_FIRMWARE_UEFI,
	PROFILE_FIRMWARE_MAX,
};

/* The TPM swtpm emulates for the guest, if any. */
enum profile_tpm {
	PROFILE_TPM_NONE,
	PROFILE_TPM_2_0,
	PROFILE_TPM_1_2,
	PROFILE_TPM_MAX,
};

struct profile_shutdown {
	unsigned powerdown_timeout; /* seconds */
	unsigned quit_timeout;
	unsigned kill_timeout;
	unsigned agent_timeout; /* guest-shutdown through the guest agent, the first step when it answers */
};

struct profile {
	char *path; /* the file it was read from */
	char *name;
	uint64_t memory; /* bytes, a whole number of MiB */
	unsigned cpus;
	char *machine;
	char *cpu; /* -cpu, NULL: QEMU's default */
	enum profile_accel accel;
	char *qemu;
	struct profile_vgpu *vgpu; /* NULL: a plain VM */
	struct profile_display display;
	enum profile_serial serial;
	char *serial_file;
	bool graphics_off;
	char *cdrom;
	struct profile_disk *disks;
	size_t n_disks;
	char **env;		/* NAME=VALUE, NULL-terminated, never NULL */
	char **extra_args;	/* NULL-terminated, never NULL */
	unsigned start_timeout; /* seconds QEMU may take to report running */
	enum profile_restart restart;
	unsigned restart_delay; /* seconds before the first restart; doubles on each failure */
	char *user;		/* QEMU runs as this user (name or number); NULL: vgpuvm's default */
	char *group;		/* QEMU's group, which may also use the control socket; NULL: the user's group */
	enum profile_sandbox_action sandbox[PROFILE_SANDBOX_PART_MAX];
	struct profile_shutdown shutdown;
	struct profile_nic *nics;
	size_t n_nics;
	struct profile_input input;
	struct profile_usb *usb;
	size_t n_usb;
	enum profile_audio audio;
	struct profile_boot boot;
	enum profile_firmware firmware;
	bool secure_boot; /* UEFI with Secure Boot enforced (enrolled keys), which needs q35 with SMM */
	enum profile_tpm tpm;
	struct profile_share *shares;
	size_t n_shares;
	bool agent; /* the guest agent's channel (virtio-serial) */
};

void profile_free(struct profile *p);
static inline void profile_freep(struct profile **p)
{
	profile_free(*p);
}
#define _cleanup_profile_ __attribute__((cleanup(profile_freep)))

const char *profile_accel_to_string(enum profile_accel a);
enum profile_accel profile_accel_from_string(const char *s); /* PROFILE_ACCEL_MAX when unknown */
const char *profile_display_type_to_string(enum profile_display_type t);
enum profile_display_type profile_display_type_from_string(const char *s);
const char *profile_restart_to_string(enum profile_restart r);
const char *profile_sandbox_part_to_string(enum profile_sandbox_part part);
const char *profile_sandbox_action_to_string(enum profile_sandbox_action a);
const char *profile_disk_interface_to_string(enum profile_disk_interface i);
enum profile_disk_interface profile_disk_interface_from_string(const char *s);

const char *profile_nic_type_to_string(enum profile_nic_type t);
const char *profile_forward_proto_to_string(enum profile_forward_proto p);
const char *profile_keyboard_to_string(enum profile_keyboard k);
const char *profile_audio_to_string(enum profile_audio a); /* NULL for PROFILE_AUDIO_OFF */
const char *profile_boot_device_to_string(enum profile_boot_device d);

/* Formats a byte count the way QEMU's -m takes it: "1G" when whole gibibytes, else "1536M". */
void profile_format_memory(uint64_t bytes, char *buf, size_t size);

/* A one-line description of the VM, for `vgpuvm check`. Returns a malloc'd string or NULL. */
char *profile_summary(const struct profile *p);
