/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "supervisor/vm/refusals.h"

bool refusals_note(struct refusals *t, uid_t uid, uint64_t now, unsigned *ret_count, uint64_t *ret_since)
{
	struct refusal_slot *s = NULL, *oldest = NULL;

	for (size_t i = 0; i < REFUSALS_SLOTS && !s; i++) {
		struct refusal_slot *c = &t->slot[i];

		if (c->used && c->uid == uid)
			s = c;
		else if (!oldest || !c->used || (oldest->used && c->logged_at < oldest->logged_at))
			oldest = c;
	}
	if (!s) {
		*oldest = (struct refusal_slot){ .used = true, .uid = uid, .logged_at = now, .count = 0 };
		*ret_count = 1;
		*ret_since = 0;
		return true;
	}
	s->count++;
	/* A clock that went backwards (it does not, being monotonic) would only delay the line. */
	if (now < s->logged_at || now - s->logged_at < REFUSALS_INTERVAL)
		return false;
	*ret_count = s->count;
	*ret_since = now - s->logged_at;
	s->count = 0;
	s->logged_at = now;
	return true;
}
