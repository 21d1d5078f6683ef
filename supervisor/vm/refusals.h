/* SPDX-License-Identifier: MIT */
/*
 * How often the control socket says that it refused someone: once per uid per minute, with a count, so that a
 * client hammering the socket cannot flood the log. A small fixed table and the monotonic clock at each refusal: no
 * memory that grows, no timer.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define REFUSALS_SLOTS 8
#define REFUSALS_INTERVAL (60 * UINT64_C(1000000))

struct refusals {
	struct refusal_slot {
		bool used;
		uid_t uid;
		uint64_t logged_at; /* monotonic usec of its last line */
		unsigned count;	    /* refused since that line, not yet said */
	} slot[REFUSALS_SLOTS];
};

/*
 * Counts a refused connection from uid at now (monotonic usec). Returns true when a line is due: for a uid's first
 * refusal, and for the first one REFUSALS_INTERVAL or more after its last line; *ret_count then says how many were
 * refused since that line, this one included, and *ret_since how many usec ago that line was (0 for the first). With
 * every slot taken, a new uid takes the slot of the uid logged longest ago, whose count is then lost.
 */
bool refusals_note(struct refusals *t, uid_t uid, uint64_t now, unsigned *ret_count, uint64_t *ret_since);
