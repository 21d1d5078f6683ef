/* SPDX-License-Identifier: MIT */
/*
 * `vgpuvm metrics` as text: the Prometheus text exposition format (0.0.4, what node_exporter's textfile collector
 * reads): one # HELP and # TYPE per family, the family's samples together, label values as valid UTF-8 with
 * backslash, double quote and newline escaped. Names and types stay within OpenMetrics' rules (a counter ends in
 * _total), so that a server exposing them as OpenMetrics keeps them. Pure: the caller gathers the values, this only
 * writes them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One VM: a runtime directory whose supervisor answered (up), or one with a crash record whose supervisor did not. */
struct metrics_vm {
	const char *name;
	bool up;
	const char *state;	/* up only: "starting", "running", "paused", "stopping", "restarting", ... */
	double uptime;		/* seconds since QEMU started (this try), < 0 when there is no QEMU */
	int64_t restarts;	/* < 0: not known */
	int64_t last_exit_code; /* < 0: not known */
	int64_t rss_bytes;	/* QEMU's VmRSS, < 0: not known */
};

struct metrics_mdev_type {
	const char *parent;
	const char *type;
	long long available; /* available_instances, < 0: unreadable (left out) */
	size_t used;	     /* mdevs of the type that exist */
};

/* One doctor check by id; the same id twice is one sample, failed (or warned) if either was. */
struct metrics_check {
	const char *id;
	bool failed;
	bool warned;
};

struct metrics {
	const struct metrics_vm *vms;
	size_t n_vms;
	const struct metrics_mdev_type *types;
	size_t n_types;
	bool doctor; /* the doctor ran: its families are written, even when no check failed */
	const struct metrics_check *checks;
	size_t n_checks;
	double timestamp; /* seconds since the epoch */
};

/* The states vgpuvm_vm_state is written for, each VM getting 1 for its own and 0 for the others. */
extern const char *const metrics_vm_states[];

/*
 * A label value as the format wants it between double quotes: ill-formed UTF-8 as U+FFFD, then '\' as "\\", '"' as
 * "\"" and a newline as "\n". NULL without memory.
 */
char *metrics_escape_label(const char *s);

/* The whole text, ending in a newline. Returns 0 with *ret (malloc'd) set, or -ENOMEM. */
int metrics_render(const struct metrics *m, char **ret);
