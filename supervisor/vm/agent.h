/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of the QEMU guest agent: the socket pair's end it keeps, driven from the loop's one poll()
 * and never waited on. A conversation begins when QEMU starts and whenever the guest opens the agent's port; once the
 * agent answers, the guest's OS and addresses are asked for, and the addresses again only when a status asks and
 * they are old: no timer runs while the VM idles. The protocol itself is qmp/ga.h's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent;
struct pollfd;
struct json_object;

enum agent_state {
	AGENT_ABSENT,	 /* the profile has no agent channel */
	AGENT_WAITING,	 /* the channel is there; no agent has answered (not started, not yet, or gone) */
	AGENT_CONNECTED, /* the agent answered our sync and its port is open */
	AGENT_STATE_MAX,
};

/* What agent_dispatch() and agent_port() report to the loop, a bit each. */
enum {
	AGENT_EV_UP = 1 << 0,	   /* the agent answered */
	AGENT_EV_DOWN = 1 << 1,	   /* it went away: its port closed, or the socket ended */
	AGENT_EV_REFUSED = 1 << 2, /* guest-shutdown came back with an error */
};

/* Takes fd, the supervisor's end of the agent's socket pair; -1 for a profile without an agent. */
int agent_new(int fd, struct agent **ret);

/* Accepts NULL. Closes the fd. */
void agent_free(struct agent *a);

enum agent_state agent_get_state(const struct agent *a);
const char *agent_state_to_string(enum agent_state s);

/* Begins a conversation (guest-sync-delimited with a fresh id); what was said before is forgotten. */
void agent_hello(struct agent *a, uint64_t now);

/* QEMU's VSERPORT_CHANGE for the agent's port: the guest opened (a new agent: a new conversation) or closed it. */
unsigned agent_port(struct agent *a, bool open, uint64_t now);

/* The agent's fd for poll(): 0 or 1 entries. */
size_t agent_pollfds(const struct agent *a, struct pollfd *p, size_t max);

/* Reads and writes what poll() said is ready; returns AGENT_EV_* bits. */
unsigned agent_dispatch(struct agent *a, const struct pollfd *p, size_t n, uint64_t now);

/* Asks the agent to power the guest off (guest-shutdown). -ENOTCONN when it has not answered. */
int agent_shutdown(struct agent *a);

/* A status was asked for: refreshes the addresses if they are old, or says hello again to an agent that is silent. */
void agent_refresh(struct agent *a, uint64_t now);

/* The status object's "agent" member (vgpuvm-control(7)); a is NULL between tries, when channel says whether the
 * profile has one. */
struct json_object *agent_status_json(const struct agent *a, bool channel);
