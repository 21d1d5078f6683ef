/* SPDX-License-Identifier: MIT */
/*
 * The crash record: what a supervisor is about to create and what it started, written to the runtime directory before
 * the mdev is made, so that after a SIGKILL the next `run` or `vgpuvm cleanup` knows what to undo.
 */
#pragma once

#include "util/macro.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What a lent file must be. */
enum owned_kind {
	OWNED_VFIO, /* a VFIO group's node: /sys/dev/char/MAJ:MIN is a device of the vfio class */
	OWNED_DRM,  /* a DRM render node: major 226, minor 128 and up */
	OWNED_KIND_MAX,
};

struct owned {
	char path[256];
	enum owned_kind kind;
	dev_t rdev; /* the device it is: a give-back touches only the same device */
	uid_t uid;  /* the owner before vgpuvm lent the file */
	gid_t gid;
	mode_t mode; /* restored too: QEMU, as the owner, can chmod what it was lent */
};

const char *owned_kind_to_string(enum owned_kind k);
int owned_kind_from_string(const char *s);

/* /dev/vfio/GROUP and the render node; a few spare. */
#define RECORD_OWNED_MAX 4

/* A tap vgpuvm made for a bridge NIC: deleted when the run ends, or by whoever undoes a dead supervisor's record. */
struct record_tap {
	char name[16];
	int ifindex; /* 0 until it is made: the record names it before */
};

#define RECORD_TAPS_MAX 8

/* A helper process of the run (swtpm): the pid with its start time, so that a reused pid is never taken for it. */
struct record_helper {
	char name[32];
	pid_t pid;
	uint64_t start_time; /* /proc/PID/stat's starttime */
};

#define RECORD_HELPERS_MAX 10

/* uuid is empty when the VM has no mdev and the record only names files lent to QEMU, taps it made, helpers or its
 * state. */
struct record {
	char name[128];
	char uuid[UUID_STRING_SIZE];
	char type[128];
	char parent[128];
	char sysfs_root[512];
	bool created; /* vgpuvm made the mdev (an adopted one is never removed) */
	pid_t supervisor_pid;
	pid_t qemu_pid;			      /* 0 before QEMU started */
	struct owned owned[RECORD_OWNED_MAX]; /* files lent to QEMU's user, with their previous owners */
	unsigned n_owned;
	struct record_tap taps[RECORD_TAPS_MAX];
	unsigned n_taps;
	uint64_t netns; /* the network namespace the taps are in (its inode; 0: not known) */
	struct record_helper helpers[RECORD_HELPERS_MAX]; /* running now; a supervisor that died may have left them */
	unsigned n_helpers;
	char state_dir[512]; /* the VM's state directory, kept on every way out; empty when it has none */
	uid_t state_uid;     /* whom it was given to for this run (QEMU's uid, which a dynamic uid may change) */
};

#define RECORD_FILE "record.json"

/* Writes dir/record.json atomically (a temporary file renamed over it). */
int record_write(const char *dir, const struct record *r);

/* Removes dir/record.json: only once nothing it names is left to undo. */
void record_remove(const char *dir);

/* Reads it: -ENOENT when there is none, -EBADMSG when it is not a record. */
int record_read(const char *dir, struct record *ret);

/* The largest record read back: one vgpuvm writes is well under 2 KiB. */
#define RECORD_SIZE_MAX 8192

/*
 * Parses the text of a record (record_read() without the file): -EBADMSG unless it is a record vgpuvm could have
 * written, every number an integer in range, every string whole (no NUL, not cut short), names with no '/', paths
 * absolute with no "..". *ret is untouched on failure.
 */
int record_parse(const char *text, size_t len, struct record *ret);
