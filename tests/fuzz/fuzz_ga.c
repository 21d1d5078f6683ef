/* SPDX-License-Identifier: MIT */
/*
 * Bytes from the guest agent, which the guest controls: the sync, the framing and the reading of every reply's
 * contents (the guest's OS, its addresses), fed in pieces. The first byte sets the piece size and whether a second
 * sync comes in the middle, as when the agent's port opens again.
 */
#include <string.h>

#include <json-c/json.h>

#include "qmp/ga.h"
#include "tests/fuzz/fuzz.h"
#include "util/macro.h"
#include "util/utf8.h"

/* What the supervisor does with a reply, and what the parsers promise about what they hand out. */
static void use(const struct ga_reply *r)
{
	struct ga_osinfo os = {};
	struct ga_address a[16];
	int n;

	fuzz_assert(r->type < GA_REPLY_TYPE_MAX);
	if (r->type == GA_REPLY_ERROR)
		fuzz_assert(r->error_class && r->error_desc);
	if (r->type != GA_REPLY_RETURN)
		return;
	fuzz_assert(r->id >= 1 && r->id <= 3);
	if (ga_osinfo_parse(r->data, &os) == 0) {
		const char *s[] = { os.name, os.pretty_name, os.version, os.kernel_release, os.machine };

		for (size_t i = 0; i < ELEMENTSOF(s); i++)
			fuzz_assert(!s[i] || utf8_valid(s[i], strlen(s[i]), NULL));
		ga_osinfo_done(&os);
	}
	n = ga_addresses_parse(r->data, a, ELEMENTSOF(a));
	fuzz_assert(n == -EBADMSG || (n >= 0 && n <= (int)ELEMENTSOF(a)));
	for (int i = 0; i < n; i++) {
		fuzz_assert(strlen(a[i].address) > 0 && strlen(a[i].address) < GA_ADDRESS_MAX);
		fuzz_assert(strlen(a[i].ifname) > 0 && strcmp(a[i].ifname, "lo") != 0);
		fuzz_assert(a[i].prefix <= (a[i].ipv6 ? 128u : 32u));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ga *g = NULL;
	size_t piece;
	bool resync;

	if (size < 1)
		return 0;
	piece = 1 + data[0] % 64;
	resync = data[0] & 0x80;
	data++;
	size--;

	fuzz_assert(ga_new(&g) == 0);
	/* The supervisor's three commands, so that ids 1 to 3 are replies and others are refused. */
	fuzz_assert(ga_send(g, "guest-info", NULL, NULL) == 0);
	fuzz_assert(ga_send(g, "guest-get-osinfo", NULL, NULL) == 0);
	fuzz_assert(ga_send(g, "guest-network-get-interfaces", NULL, NULL) == 0);
	fuzz_assert(ga_sync(g, 12345) == 0);
	for (size_t off = 0; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;
		int k;

		if (resync && off >= size / 2 && off < size / 2 + piece)
			fuzz_assert(ga_sync(g, 12346) == 0);
		fuzz_assert(ga_feed(g, data + off, n) == 0);
		for (;;) {
			struct ga_reply r = {};

			k = ga_next(g, &r);
			if (k == 0)
				break;
			if (k < 0) {
				fuzz_assert(k == -EBADMSG);
				fuzz_assert(*ga_error(g));
				continue;
			}
			fuzz_assert(r.type != GA_REPLY_SYNCED || ga_synced(g));
			use(&r);
			ga_reply_done(&r);
		}
	}
	ga_free(g);
	return 0;
}
