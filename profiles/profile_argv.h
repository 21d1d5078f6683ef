/* SPDX-License-Identifier: MIT */
/* struct profile → QEMU's argv. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct profile;

/* The fd number at which QEMU finds its QMP socket (documented in docs/hacking.md). */
#define PROFILE_QMP_FD 3

/* Where QEMU finds the first of the files vgpuvm opens for it (fd 4 is the exec-status pipe until exec). */
#define PROFILE_FILE_FD_BASE 5

struct profile_argv_opts {
	const char *sysfs_root; /* NULL: "/sys" */
	int qmp_fd;		/* where the QMP socket will be in QEMU; 0: PROFILE_QMP_FD */
	int file_fd_base;	/* >0: the files of profile_files() are open fds from this number on (-add-fd and
				 * /dev/fdset/N); 0: QEMU opens them by path */
	/* UEFI (the profile's "firmware"): the firmware's code and the VM's own NVRAM, as the host's firmware
	 * descriptor and state directory give them. With file_fd_base, both are fds after profile_files()' (the code
	 * read-only, the NVRAM read-only and read-write: PROFILE_FIRMWARE_FDS); otherwise QEMU opens these paths. */
	const char *firmware_code;
	const char *firmware_code_format; /* "raw" or "qcow2" */
	const char *nvram;
	const char *nvram_format;
	bool smm; /* the firmware needs SMM (Secure Boot): -machine ...,smm=on */
};

/* How many fds the firmware takes after profile_files()' when they are passed as fds. */
#define PROFILE_FIRMWARE_FDS 3

/* A file QEMU opens, which vgpuvm may open for it instead and pass as an fd. */
struct profile_file {
	const char *path;
	int flags; /* O_RDONLY or O_RDWR */
	const char *what; /* "cdrom", "disk" */
	unsigned set;	  /* the fdset it belongs to: one per drive, from 1 */
};

#define PROFILE_FILES_MAX 64

/*
 * The files a profile makes QEMU open, in the order of their fds: the cdrom (read-only), then each disk, read-only
 * and, unless the disk is, read-write (QEMU opens an image read-only first for some uses, such as snapshot=on, and
 * picks the fd of the access mode it asks for). Returns how many, at most max.
 */
size_t profile_files(const struct profile *p, struct profile_file *ret, size_t max);

/*
 * Where QEMU finds the control socket of its TPM's swtpm (a socket pair, no path): after every file vgpuvm passes as
 * an fd, at PROFILE_FILE_FD_BASE when it passes none. vgpuvm's run puts it there; -1 when the profile has no TPM.
 */
int profile_tpm_fd(const struct profile *p, const struct profile_argv_opts *opts);

/* Builds the NULL-terminated argv that `vgpuvm run` executes; argv[0] is the profile's qemu binary. */
int profile_argv(const struct profile *p, const struct profile_argv_opts *opts, char ***ret);

/* Quotes one argument for a POSIX shell when it needs it. Returns a malloc'd string or NULL. */
char *profile_shell_quote(const char *s);
