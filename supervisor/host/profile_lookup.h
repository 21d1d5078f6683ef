/* SPDX-License-Identifier: MIT */
/* Where profiles are found. */
#pragma once

/*
 * The directories searched for a bare profile name, in order: each entry of $VGPUVM_PROFILE_PATH (colon-separated),
 * $XDG_CONFIG_HOME/vgpuvm/profiles (or ~/.config/vgpuvm/profiles), /etc/vgpuvm/profiles, then stock_dirs.
 */
int profile_search_dirs(char *const *stock_dirs, char ***ret);

/*
 * Finds a profile. Something that looks like a path (it has a '/' or ends in ".json") is taken as it is; a bare name
 * is looked up as NAME.json in dirs. -ENOENT with *ret_error naming every place looked at.
 */
int profile_find(const char *name, char *const *dirs, char **ret_path, char **ret_error);

struct profile;

/* Reads path and parses it (profile_parse). Besides its errors: the negative errno of the read, with *ret_error set. */
int profile_load(const char *path, char *const *sets, struct profile **ret, char **ret_error);
