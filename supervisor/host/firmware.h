/* SPDX-License-Identifier: MIT */
/*
 * UEFI firmware, chosen from QEMU's firmware descriptors (QEMU's docs/interop/firmware.json, the files libvirt reads;
 * Debian's ovmf installs them in /usr/share/qemu/firmware): by interface, machine type, architecture and features.
 */
#pragma once

#include <stdbool.h>

/* The Debian package that installs x86_64 UEFI firmware and its descriptors. */
#define FIRMWARE_PACKAGE "ovmf"

struct firmware {
	char *descriptor;     /* the descriptor's path */
	char *description;    /* its "description", or NULL */
	char *code;	      /* the executable, read-only flash (unit 0) */
	char *code_format;    /* "raw" or "qcow2" */
	char *nvram_template; /* copied once into the VM's state as its NVRAM (unit 1) */
	char *nvram_format;
	bool smm;	  /* the firmware requires SMM: the machine gets smm=on */
	bool secure_boot; /* Secure Boot is enforced: its keys are enrolled */
};

/*
 * Picks the first descriptor, in the order of their file names, of x86_64 UEFI firmware on flash for machine (QEMU's
 * -machine value: "pc", "q35", "pc-q35-7.2", with options after a comma) that has Secure Boot with enrolled keys when
 * secure_boot is set, and otherwise has no enrolled keys (and, when there is such a one, no Secure Boot at all). One
 * that requires SMM fits only q35. As root, a descriptor root does not own or others can write is skipped. Returns 0,
 * or -ENOENT with *ret_error saying what is missing and which package installs it.
 */
int firmware_find(const char *machine, bool secure_boot, struct firmware *ret, char **ret_error);

/* Frees what firmware_find() filled in. */
void firmware_done(struct firmware *f);

/* The glob-able name of a machine type: "pc" is "pc-i440fx-", "q35" is "pc-q35-" (QEMU's aliases). malloc'd. */
char *firmware_machine_type(const char *machine);

/* The VM's NVRAM in its state directory: a copy of the firmware's template, made on the first run and kept. */
#define FIRMWARE_NVRAM_FILE "nvram.fd"
