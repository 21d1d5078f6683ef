/* SPDX-License-Identifier: MIT */
/*
 * Mesa's DRI driver files on this host: whether NAME_dri.so exists where Mesa's loader looks for it, so that advice
 * never names a driver that is not there (Mesa 22.0 removed the classic i965 driver; Debian 12's Mesa 22.3 has iris
 * and crocus for Intel, and bookworm has no mesa-amber).
 */
#pragma once

/*
 * The directories Mesa's loader searches when LIBGL_DRIVERS_PATH is unset: Debian's and Ubuntu's multiarch one, then
 * Fedora's and Arch's (each Mesa build has one of them compiled in).
 */
#define DRI_DEFAULT_PATH "/usr/lib/x86_64-linux-gnu/dri:/usr/lib64/dri:/usr/lib/dri"

/*
 * Looks for NAME_dri.so in the colon-separated SEARCH_PATH (NULL or empty: DRI_DEFAULT_PATH), as Mesa's loader does.
 * Returns 0 and the file's path in *ret_path (may be NULL) when found, -ENOENT when not, -ENOMEM.
 */
int dri_driver_find(const char *search_path, const char *name, char **ret_path);
