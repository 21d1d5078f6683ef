/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for qmp/ga.c: the guest agent's sync and framing, fed bytes as the agent sends them (a transcript
 * recorded from Debian 12's qemu-ga 7.2 in tests/unit/data/ga/), and the reading of its replies.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "qmp/ga.h"
#include "util/macro.h"

static char *read_data(const char *name, size_t *ret_len)
{
	char path[256];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "tests/unit/data/ga/%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

static void feed_str(struct ga *g, const char *s)
{
	assert_int_equal(ga_feed(g, s, strlen(s)), 0);
}

/* The output is the 0xFF, then the sync command with its id, then each command with an id of its own. */
static void test_output(void **state)
{
	struct ga *g;
	const char *buf;
	size_t len;
	uint64_t id;

	(void)state;
	assert_int_equal(ga_new(&g), 0);
	assert_int_equal(ga_sync(g, 4242), 0);
	assert_int_equal(ga_send(g, "guest-get-osinfo", NULL, &id), 0);
	assert_int_equal(id, 1);
	ga_output(g, &buf, &len);
	assert_memory_equal(buf,
			    "\xff{\"execute\": \"guest-sync-delimited\", \"arguments\": {\"id\": 4242}}\n"
			    "{\"execute\":\"guest-get-osinfo\",\"id\":1}\r\n",
			    len);
	ga_output_consume(g, 1);
	ga_output(g, &buf, &len);
	assert_int_equal(buf[0], '{');
	/* A new sync drops what was queued and not yet written. */
	assert_int_equal(ga_sync(g, 7), 0);
	ga_output(g, &buf, &len);
	assert_memory_equal(buf, "\xff{\"execute\": \"guest-sync-delimited\", \"arguments\": {\"id\": 7}}\n", len);
	assert_false(ga_synced(g));
	ga_free(g);
}

/* The recorded transcript, fed a byte at a time: the parse error of our 0xFF and a stale reply are dropped. */
static void test_recorded(void **state)
{
	_cleanup_free_ char *raw = NULL;
	struct ga_reply r = {};
	struct ga_osinfo os = {};
	struct ga_address a[8];
	struct ga *g;
	size_t len;
	int k, seen = 0;

	(void)state;
	raw = read_data("qemu-ga-7.2.raw", &len);
	assert_int_equal(ga_new(&g), 0);
	/* The transcript's commands had ids 7, 8, "x" and 9: send 9 so that 7 to 9 are ours. */
	for (int i = 0; i < 9; i++)
		assert_int_equal(ga_send(g, "guest-ping", NULL, NULL), 0);
	assert_int_equal(ga_sync(g, 12345), 0);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(ga_feed(g, raw + i, 1), 0);
		while ((k = ga_next(g, &r)) != 0) {
			if (k < 0) {
				/* The string id "x" of the interfaces' reply is none of ours. */
				assert_int_equal(k, -EBADMSG);
				assert_non_null(strstr(ga_error(g), "no command of ours"));
				seen |= 1 << 6;
				continue;
			}
			switch (r.type) {
			case GA_REPLY_SYNCED:
				assert_int_equal(seen, 0);
				seen |= 1;
				break;
			case GA_REPLY_RETURN:
				if (r.id == 7)
					seen |= 2;
				else {
					assert_int_equal(r.id, 8);
					assert_int_equal(ga_osinfo_parse(r.data, &os), 0);
					assert_string_equal(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
					assert_string_equal(os.kernel_release, "6.18.44-fc-v669");
					assert_string_equal(os.machine, "x86_64");
					ga_osinfo_done(&os);
					seen |= 4;
				}
				break;
			case GA_REPLY_ERROR:
				assert_int_equal(r.id, 9);
				assert_string_equal(r.error_class, "CommandNotFound");
				seen |= 8;
				break;
			default:
				fail();
			}
			ga_reply_done(&r);
		}
	}
	assert_int_equal(seen, 1 | 2 | 4 | 8 | 1 << 6);
	assert_true(ga_synced(g));
	ga_free(g);

	/* The interfaces' reply itself: loopback left out, the others in order. */
	{
		const char *line = strstr(raw, "[{\"name\": \"lo\"");
		json_object *v;

		assert_non_null(line);
		v = json_tokener_parse(line);
		/* The line ends in , "id": "x"}: parse the array alone. */
		if (!v) {
			char *end = strstr(line, "], \"id\"");
			char *s = strndup(line, (size_t)(end - line) + 1);

			v = json_tokener_parse(s);
			free(s);
		}
		assert_non_null(v);
		k = ga_addresses_parse(v, a, ELEMENTSOF(a));
		assert_int_equal(k, 3);
		assert_string_equal(a[0].ifname, "eth0");
		assert_string_equal(a[0].address, "192.0.2.2");
		assert_int_equal(a[0].prefix, 24);
		assert_false(a[0].ipv6);
		assert_string_equal(a[1].address, "fd00::2");
		assert_true(a[1].ipv6);
		assert_int_equal(ga_addresses_parse(v, a, 1), 1);
		json_object_put(v);
	}
}

/* Before the delimiter and our id, nothing counts: stale replies, other syncs' replies, garbage. */
static void test_sync_discards(void **state)
{
	struct ga_reply r = {};
	struct ga *g;
	uint64_t id;

	(void)state;
	assert_int_equal(ga_new(&g), 0);
	assert_int_equal(ga_send(g, "guest-info", NULL, &id), 0);
	assert_int_equal(ga_sync(g, 99), 0);
	feed_str(g, "{\"return\": {}, \"id\": 1}\n");
	assert_int_equal(ga_next(g, &r), 0);
	feed_str(g, "\xff{\"return\": 98}\n{\"return\": {}, \"id\": 1}\n");
	assert_int_equal(ga_next(g, &r), 0);
	feed_str(g, "\xff{\"return\": \"99\"}\n\xff{\"return\": 99.0}\n\xff{\"return\": 99");
	assert_int_equal(ga_next(g, &r), 0);
	assert_false(ga_synced(g));
	feed_str(g, "}\r\n{\"return\": {\"version\": \"7.2\"}, \"id\": 1}\n");
	assert_int_equal(ga_next(g, &r), 1);
	assert_int_equal(r.type, GA_REPLY_SYNCED);
	assert_int_equal(ga_next(g, &r), 1);
	assert_int_equal(r.type, GA_REPLY_RETURN);
	assert_int_equal(r.id, 1);
	ga_reply_done(&r);
	/* Synced: a reply to no command sent, bad JSON, an event, and a line too long are refused one by one. */
	feed_str(g, "{\"return\": {}, \"id\": 2}\n{nope\n{\"event\": \"X\"}\n{\"return\": 1} x\n");
	for (int i = 0; i < 4; i++)
		assert_int_equal(ga_next(g, &r), -EBADMSG);
	assert_int_equal(ga_next(g, &r), 0);
	ga_free(g);
}

/* A line without an end is dropped once it passes the bound, up to its end; memory stays bounded. */
static void test_long_line(void **state)
{
	struct ga_reply r = {};
	struct ga *g;
	char *junk = malloc(65536);
	int bad = 0, k;

	(void)state;
	assert_non_null(junk);
	memset(junk, 'a', 65536);
	assert_int_equal(ga_new(&g), 0);
	assert_int_equal(ga_send(g, "guest-info", NULL, NULL), 0);
	assert_int_equal(ga_sync(g, 5), 0);
	/* Before the delimiter, junk is not even kept. */
	for (int i = 0; i < 64; i++) {
		assert_int_equal(ga_feed(g, junk, 65536), 0);
		assert_int_equal(ga_next(g, &r), 0);
	}
	feed_str(g, "\xff{\"return\": 5}\n{\"return\": ");
	assert_int_equal(ga_next(g, &r), 1);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(ga_feed(g, junk, 65536), 0);
		while ((k = ga_next(g, &r)) != 0) {
			assert_int_equal(k, -EBADMSG);
			bad++;
		}
	}
	assert_int_equal(bad, 1);
	feed_str(g, "}, \"id\": 1}\n{\"return\": {}, \"id\": 1}\n");
	assert_int_equal(ga_next(g, &r), 1);
	assert_int_equal(r.type, GA_REPLY_RETURN);
	ga_reply_done(&r);
	ga_free(g);
	free(junk);
}

/* What the guest says about itself is checked before it is shown. */
static void test_contents(void **state)
{
	struct ga_osinfo os = {};
	struct ga_address a[8];
	json_object *v;

	(void)state;
	v = json_tokener_parse("{\"name\": 5, \"pretty-name\": \"Win\\u0000dows\", \"version\": \"10\", "
			       "\"kernel-release\": \"19045\"}");
	assert_int_equal(ga_osinfo_parse(v, &os), 0);
	assert_null(os.name);
	assert_null(os.pretty_name);
	assert_string_equal(os.version, "10");
	assert_string_equal(os.kernel_release, "19045");
	ga_osinfo_done(&os);
	json_object_put(v);
	v = json_tokener_parse("[]");
	assert_int_equal(ga_osinfo_parse(v, &os), -EBADMSG);
	assert_int_equal(ga_addresses_parse(v, a, 8), 0);
	json_object_put(v);
	v = json_tokener_parse("[{\"name\": \"eth0\", \"ip-addresses\": ["
			       "{\"ip-address-type\": \"ipv4\", \"ip-address\": \"10.0.2.15\", \"prefix\": 24},"
			       "{\"ip-address-type\": \"ipv4\", \"ip-address\": \"10.0.2.999\", \"prefix\": 24},"
			       "{\"ip-address-type\": \"ipv4\", \"ip-address\": \"../../x\"},"
			       "{\"ip-address-type\": \"ipv6\", \"ip-address\": \"10.0.2.16\"},"
			       "{\"ip-address-type\": \"ipv4\", \"ip-address\": \"127.0.0.2\"},"
			       "{\"ip-address-type\": \"ipv4\", \"ip-address\": \"10.0.2.17\", \"prefix\": 4294967320},"
			       "{\"ip-address-type\": 4, \"ip-address\": \"10.0.2.18\"}]},"
			       "{\"name\": \"e\\u0000th1\", \"ip-addresses\": [{\"ip-address-type\": \"ipv4\", "
			       "\"ip-address\": \"1.2.3.4\"}]},"
			       "{\"name\": \"wlan0\"}, 7]");
	assert_non_null(v);
	assert_int_equal(ga_addresses_parse(v, a, 8), 2);
	assert_string_equal(a[0].address, "10.0.2.15");
	assert_int_equal(a[0].prefix, 24);
	assert_string_equal(a[1].address, "10.0.2.17");
	assert_int_equal(a[1].prefix, 0);
	json_object_put(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output),	  cmocka_unit_test(test_recorded), cmocka_unit_test(test_sync_discards),
		cmocka_unit_test(test_long_line), cmocka_unit_test(test_contents),
	};

	return cmocka_run_group_tests_name("ga", tests, NULL, NULL);
}
