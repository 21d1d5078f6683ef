/* SPDX-License-Identifier: MIT */
/*
 * `run`'s part of the VM's platform (launch/platform.h): what it tells the person, and what the crash record says of
 * it. save is called, with userdata, whenever the record changed and must be written.
 */
#pragma once

struct json_object;
struct platform;
struct record;

typedef void (*run_save_fn)(void *userdata);

/*
 * Finds the firmware and swtpm the profile needs (a refusal here leaves nothing behind), then prepares the state
 * directory, recorded first: its NVRAM and its TPM's state, made on the first run. Returns 0 or an exit code.
 */
int run_platform_prepare(struct platform *pl, struct record *rec, run_save_fn save, void *userdata);

/* Starts this try's helpers, each recorded once it runs. Returns 0 or an exit code. */
int run_platform_start(struct platform *pl, struct record *rec, run_save_fn save, void *userdata);

/* Says whether every helper of this try got to run, once QEMU started beside them. Returns 0 or an exit code. */
int run_platform_confirm(struct platform *pl);

/* Stops this try's helpers once QEMU is gone, says how each ended, and takes them out of the record. */
void run_platform_stop(struct platform *pl, struct record *rec, run_save_fn save, void *userdata);

/* The helpers of this try, for the status object: [{"name", "pid", "running"}]. */
struct json_object *run_platform_helpers_json(const struct platform *pl);
