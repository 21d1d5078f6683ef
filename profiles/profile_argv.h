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

/* A QEMU version as one number, to compare: PROFILE_QEMU_VERSION(10, 0, 0). */
#define PROFILE_QEMU_VERSION(major, minor, micro) ((major)*10000u + (minor)*100u + (micro))

struct profile_argv_opts {
	const char *sysfs_root; /* NULL: "/sys" */
	unsigned qemu_version;	/* PROFILE_QEMU_VERSION() of the QEMU that will run it, 0: not known (see
				 * profile_argv_wants_qemu_version()) */
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

/* How QEMU gets a file vgpuvm opens for it. */
enum profile_file_kind {
	PROFILE_FILE_IMAGE, /* a drive's image: -add-fd into an fdset, and /dev/fdset/N */
	PROFILE_FILE_COPY,  /* the kernel or initrd: QEMU takes only a path, and a path through /proc/self/fd/N reopens
			     * the file with QEMU's own permissions; so QEMU gets a sealed copy in memory (a memfd) */
	PROFILE_FILE_TAP,   /* a NIC's tap (the one vgpuvm makes on a bridge, or the user's): -netdev tap,fd=N */
	PROFILE_FILE_USB,   /* a host USB device's node, which vgpuvm finds (path NULL): -add-fd, usb-host's
			     * hostdevice=/dev/fdset/N; QEMU needs no access of its own to /dev/bus/usb */
	PROFILE_FILE_KIND_MAX,
};

/* How many fds the firmware takes after profile_files()' when they are passed as fds. */
#define PROFILE_FIRMWARE_FDS 3

/* A file QEMU opens, which vgpuvm may open for it instead and pass as an fd. */
struct profile_file {
	const char *path; /* for a tap, its name */
	int flags;	  /* O_RDONLY or O_RDWR */
	const char *what; /* "cdrom", "disk", "kernel", "initrd", "tap" */
	unsigned set;	  /* the fdset it belongs to: one per drive, from 1; 0 when not an image */
	enum profile_file_kind kind;
	unsigned nic; /* a tap's NIC, its index in "net" */
	unsigned usb; /* a USB device's index in "usb" */
};

/* The fdset of the USB device at index i of "usb": after the drives' and the firmware's. */
unsigned profile_usb_fdset(const struct profile *p, size_t i);

#define PROFILE_FILES_MAX 64

/*
 * The files a profile makes QEMU open, in the order of their fds: the cdrom (read-only), then each disk, read-only
 * and, unless the disk is, read-write (QEMU opens an image read-only first for some uses, such as snapshot=on, and
 * picks the fd of the access mode it asks for), then the kernel and the initrd, then the tap of each bridge or tap
 * NIC, then the node of each USB device (read-write). Returns how many, at most max.
 */
size_t profile_files(const struct profile *p, struct profile_file *ret, size_t max);

/*
 * Whether the command line depends on QEMU's version, so that the caller should ask QEMU (qemu -version) and pass it
 * in profile_argv_opts: with "opregion": false, which QEMU 10 and later need written out.
 */
bool profile_argv_wants_qemu_version(const struct profile *p);

/*
 * Where QEMU finds the control socket of its TPM's swtpm (a socket pair, no path): after every file vgpuvm passes as
 * an fd, at PROFILE_FILE_FD_BASE when it passes none. vgpuvm's run puts it there; -1 when the profile has no TPM.
 */
int profile_tpm_fd(const struct profile *p, const struct profile_argv_opts *opts);

/*
 * Where QEMU finds the vhost-user socket of share i's virtiofsd (a socket vgpuvm connected, no path): right after the
 * TPM's socket, or where the TPM's would be when there is none. -1 when there is no share i.
 */
int profile_share_fd(const struct profile *p, const struct profile_argv_opts *opts, size_t i);

/*
 * Where QEMU finds the guest agent's socket (a socket pair, no path): right after the shares' sockets, or where they
 * would be. vgpuvm's run puts it there; -1 when the profile has no "agent".
 */
int profile_agent_fd(const struct profile *p, const struct profile_argv_opts *opts);

/* Builds the NULL-terminated argv that `vgpuvm run` executes; argv[0] is the profile's qemu binary. */
int profile_argv(const struct profile *p, const struct profile_argv_opts *opts, char ***ret);

/* Quotes one argument for a POSIX shell when it needs it. Returns a malloc'd string or NULL. */
char *profile_shell_quote(const char *s);
