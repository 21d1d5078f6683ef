/* SPDX-License-Identifier: MIT */
/* The profile's "shares" (host directories the guest mounts through virtiofs) and a disk's "size". */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

struct profile;

/* The longest tag: virtio-fs' config space holds 36 bytes, unterminated. */
#define PROFILE_SHARE_TAG_MAX 36
#define PROFILE_SHARES_MAX 8

/* The largest disk vgpuvm makes: 64 TiB, qcow2's own limit with its default clusters. */
#define PROFILE_DISK_SIZE_MAX (UINT64_C(64) << 40)

/* The keys of a share's object, for the "unknown key" check and profile_foreach_key(). */
extern const char *const profile_share_keys[];

/*
 * Reads "shares": [{"path": "/srv/data", "tag": "data", "readonly": true}, ...]. A path is absolute; a tag is 1 to
 * PROFILE_SHARE_TAG_MAX bytes of A-Z a-z 0-9 . _ - and unique. Returns 0, -ENOMEM, or -EINVAL with *ret_field and
 * *ret_msg (both malloc'd) saying what is wrong.
 */
int profile_shares_parse(json_object *v, struct profile *p, char **ret_field, char **ret_msg);

/*
 * Reads a disk's "size": a number of bytes, or a string of digits with K, M, G or T (powers of 1024, an optional
 * "B" or "iB" after). A whole number of 512-byte sectors, at most PROFILE_DISK_SIZE_MAX. Returns 0 or -EINVAL with
 * *ret_msg.
 */
int profile_disk_size_parse(json_object *v, uint64_t *ret, char **ret_msg);
