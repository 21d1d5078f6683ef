/* SPDX-License-Identifier: MIT */
/*
 * Where virtiofsd is, and which one: QEMU 7.2's C virtiofsd (Debian 12's qemu-system-common) or the separate Rust
 * virtiofsd of newer systems. Their options differ; the Rust one is preferred when both are there.
 */
#pragma once

#include <stdbool.h>

/* The Debian packages, for "install it" messages. */
#define VIRTIOFSD_PACKAGES "qemu-system-common on Debian 12, virtiofsd on newer releases"

struct virtiofsd_bin {
	char *path;
	bool rust;     /* the Rust virtiofsd (--shared-dir, ...); else QEMU's C one (-o source=...) */
	bool readonly; /* it has --readonly (the Rust one from 1.11) */
};

/*
 * Finds virtiofsd: $VGPUVM_VIRTIOFSD when set (the only candidate then, which is how tests make it missing), else
 * /usr/libexec/virtiofsd, /usr/lib/virtiofsd, /usr/lib/qemu/virtiofsd, the first that is an executable file. Which
 * one it is, its --help says. Returns 0, or -ENOENT with *ret_error naming the packages.
 */
int virtiofsd_bin_find(struct virtiofsd_bin *ret, char **ret_error);
void virtiofsd_bin_done(struct virtiofsd_bin *b);
