/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for supervisor/vm/agent.c: the supervisor's side of the guest agent over a real socket pair, with the
 * test as the agent (as QEMU relays it): what is sent, which events come out, and what the status shows.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "supervisor/vm/agent.h"
#include "util/macro.h"
#include "util/time-util.h"

#define T0 (1000 * USEC_PER_SEC)

struct t {
	struct agent *a;
	int peer; /* the agent's end */
};

static void setup_pair(struct t *t)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(agent_new(sv[0], &t->a), 0);
	t->peer = sv[1];
}

static void teardown_pair(struct t *t)
{
	agent_free(t->a);
	safe_close(t->peer);
}

/* What the supervisor wrote so far, as a string. */
static char *take(struct t *t)
{
	static char buf[65536];
	ssize_t n = recv(t->peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

static void say(struct t *t, const char *s)
{
	assert_int_equal(send(t->peer, s, strlen(s), 0), (ssize_t)strlen(s));
}

/* One round of the loop: poll the agent's fd, dispatch what is ready. */
static unsigned round_(struct t *t, uint64_t now)
{
	struct pollfd p[2];
	size_t n = agent_pollfds(t->a, p, ELEMENTSOF(p));

	if (n == 0)
		return 0;
	assert_int_equal(n, 1);
	assert_true(poll(p, n, 0) >= 0);
	return agent_dispatch(t->a, p, n, now);
}

/* The sync id the supervisor sent last. */
static unsigned long long sync_id(const char *out)
{
	const char *s = strrchr(out, 0xff);
	unsigned long long id = 0;

	assert_non_null(s);
	assert_int_equal(sscanf(s, "\xff{\"execute\": \"guest-sync-delimited\", \"arguments\": {\"id\": %llu}}", &id),
			 1);
	assert_true(id > 0 && id < (1ULL << 53));
	return id;
}

static json_object *status(struct t *t)
{
	return agent_status_json(t->a, true);
}

static const char *member(json_object *o, const char *path)
{
	json_object *v = o;
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(v, k, &v))
			return "(missing)";
	return v ? json_object_get_string(v) : "(null)";
}

/* Greets the agent and answers as qemu-ga does; returns the events of the answer. */
static unsigned connect_agent(struct t *t, uint64_t now)
{
	char reply[128];

	agent_hello(t->a, now);
	snprintf(reply, sizeof(reply),
		 "{\"error\": {\"class\": \"GenericError\", \"desc\": \"stray\"}}\n\xff{\"return\": %llu}\n",
		 sync_id(take(t)));
	say(t, reply);
	return round_(t, now + 1000);
}

static void test_absent(void **state)
{
	struct agent *a;
	json_object *o;

	(void)state;
	assert_int_equal(agent_new(-1, &a), 0);
	assert_int_equal(agent_get_state(a), AGENT_ABSENT);
	agent_hello(a, T0);
	agent_refresh(a, T0);
	assert_int_equal(agent_shutdown(a), -ENOTCONN);
	assert_int_equal(agent_pollfds(a, NULL, 0), 0);
	o = agent_status_json(a, false);
	assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			    "{\"state\":\"absent\",\"version\":null,\"os\":null,\"addresses\":null}");
	json_object_put(o);
	agent_free(a);
	/* Between tries: the profile's channel is there, no agent yet. */
	o = agent_status_json(NULL, true);
	assert_string_equal(member(o, "state"), "waiting");
	json_object_put(o);
	agent_free(NULL);
}

/* The hello, stale bytes before the delimiter, the answer, then the guest's OS and addresses. */
static void test_connect_and_status(void **state)
{
	struct t t;
	json_object *o;
	const char *out;

	(void)state;
	setup_pair(&t);
	assert_int_equal(agent_get_state(t.a), AGENT_WAITING);
	assert_int_equal(agent_shutdown(t.a), -ENOTCONN);
	/* A stale reply of an earlier client, then ours. */
	say(&t, "{\"return\": {}, \"id\": 1}\n");
	assert_int_equal(round_(&t, T0), 0);
	assert_int_equal(connect_agent(&t, T0), AGENT_EV_UP);
	assert_int_equal(agent_get_state(t.a), AGENT_CONNECTED);
	out = take(&t);
	assert_non_null(strstr(out, "{\"execute\":\"guest-info\",\"id\":1}"));
	assert_non_null(strstr(out, "{\"execute\":\"guest-get-osinfo\",\"id\":2}"));
	assert_non_null(strstr(out, "{\"execute\":\"guest-network-get-interfaces\",\"id\":3}"));
	o = status(&t);
	assert_string_equal(member(o, "state"), "connected");
	assert_string_equal(member(o, "os"), "(null)");
	assert_string_equal(member(o, "addresses"), "(null)");
	json_object_put(o);
	say(&t,
	    "{\"return\": {\"version\": \"7.2.22\"}, \"id\": 1}\n"
	    "{\"return\": {\"name\": \"Debian GNU/Linux\", \"pretty-name\": \"Debian GNU/Linux 12 (bookworm)\", "
	    "\"kernel-release\": \"6.1.0-18-amd64\", \"machine\": \"x86_64\"}, \"id\": 2}\n"
	    "{\"return\": [{\"name\": \"lo\", \"ip-addresses\": [{\"ip-address-type\": \"ipv4\", \"ip-address\": "
	    "\"127.0.0.1\", \"prefix\": 8}]}, {\"name\": \"eth0\", \"ip-addresses\": [{\"ip-address-type\": \"ipv4\", "
	    "\"ip-address\": \"10.0.2.15\", \"prefix\": 24}]}], \"id\": 3}\n");
	assert_int_equal(round_(&t, T0 + 2000), 0);
	o = status(&t);
	assert_string_equal(member(o, "version"), "7.2.22");
	assert_string_equal(member(o, "os.pretty_name"), "Debian GNU/Linux 12 (bookworm)");
	assert_string_equal(member(o, "os.kernel_release"), "6.1.0-18-amd64");
	assert_string_equal(member(o, "os.version"), "(null)");
	assert_string_equal(
	    json_object_to_json_string_ext(json_object_object_get(o, "addresses"), JSON_C_TO_STRING_PLAIN),
	    "[{\"interface\":\"eth0\",\"family\":\"ipv4\",\"address\":\"10.0.2.15\",\"prefix\":24}]");
	json_object_put(o);

	/* A status soon after asks nothing; one 5 s later asks for the addresses again, once. */
	agent_refresh(t.a, T0 + 3 * USEC_PER_SEC);
	assert_string_equal(take(&t), "");
	agent_refresh(t.a, T0 + 6 * USEC_PER_SEC);
	assert_string_equal(take(&t), "{\"execute\":\"guest-network-get-interfaces\",\"id\":4}\r\n");
	agent_refresh(t.a, T0 + 12 * USEC_PER_SEC);
	assert_string_equal(take(&t), "");
	teardown_pair(&t);
}

/* The port closing is the agent going away; opening it again is a new agent, greeted anew. */
static void test_port_changes(void **state)
{
	struct t t;
	unsigned long long first, second;

	(void)state;
	setup_pair(&t);
	agent_hello(t.a, T0);
	first = sync_id(take(&t));
	/* No answer: a status within 5 s does not greet again, one after does. */
	agent_refresh(t.a, T0 + USEC_PER_SEC);
	assert_string_equal(take(&t), "");
	agent_refresh(t.a, T0 + 6 * USEC_PER_SEC);
	second = sync_id(take(&t));
	assert_true(second != first);
	/* The late answer to the first hello is stale. */
	say(&t, "\xff{\"return\": ");
	{
		char s[64];

		snprintf(s, sizeof(s), "%llu}\n", first);
		say(&t, s);
	}
	assert_int_equal(round_(&t, T0 + 7 * USEC_PER_SEC), 0);
	assert_int_equal(agent_get_state(t.a), AGENT_WAITING);

	assert_int_equal(connect_agent(&t, T0 + 8 * USEC_PER_SEC), AGENT_EV_UP);
	take(&t);
	assert_int_equal(agent_port(t.a, false, T0 + 9 * USEC_PER_SEC), AGENT_EV_DOWN);
	assert_int_equal(agent_get_state(t.a), AGENT_WAITING);
	assert_int_equal(agent_shutdown(t.a), -ENOTCONN);
	assert_int_equal(agent_port(t.a, false, T0 + 9 * USEC_PER_SEC), 0);
	assert_int_equal(agent_port(t.a, true, T0 + 10 * USEC_PER_SEC), 0);
	sync_id(take(&t));
	assert_int_equal(connect_agent(&t, T0 + 11 * USEC_PER_SEC), AGENT_EV_UP);
	teardown_pair(&t);
}

/* guest-shutdown: sent with its mode; an error back is a refusal; the socket ending is the agent going. */
static void test_shutdown(void **state)
{
	struct t t;
	char *out;

	(void)state;
	setup_pair(&t);
	connect_agent(&t, T0);
	take(&t);
	assert_int_equal(agent_shutdown(t.a), 0);
	out = take(&t);
	assert_string_equal(out,
			    "{\"execute\":\"guest-shutdown\",\"arguments\":{\"mode\":\"powerdown\"},\"id\":4}\r\n");
	say(&t, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"child process has failed to shutdown\"}, "
		"\"id\": 4}\n");
	assert_int_equal(round_(&t, T0 + USEC_PER_SEC), AGENT_EV_REFUSED);
	/* An error for another command is no refusal. */
	say(&t, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"x\"}, \"id\": 2}\n");
	assert_int_equal(round_(&t, T0 + USEC_PER_SEC), 0);
	/* QEMU closes its end. */
	t.peer = safe_close(t.peer);
	assert_int_equal(round_(&t, T0 + 2 * USEC_PER_SEC), AGENT_EV_DOWN);
	assert_int_equal(agent_get_state(t.a), AGENT_WAITING);
	assert_int_equal(agent_pollfds(t.a, NULL, 0), 0);
	assert_int_equal(agent_shutdown(t.a), -ENOTCONN);
	teardown_pair(&t);
}

/* What the supervisor's log got while fn ran: stderr into a pipe. */
static char *capture_log(void (*fn)(struct t *), struct t *t)
{
	static char buf[8192];
	int p[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	fflush(stderr);
	dup2(p[1], STDERR_FILENO);
	fn(t);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

static void forge_and_flap(struct t *t)
{
	connect_agent(t, T0);
	take(t);
	/* The guest names its OS with a newline and a fake log line in it. */
	say(t, "{\"return\": {\"pretty-name\": \"Evil\\nvgpuvm: error: forged\", \"kernel-release\": \"\\u001b[2J\"}, "
	       "\"id\": 2}\n");
	round_(t, T0 + 1000);
	/* Then flaps its port: the second coming and going within 10 s are not logged at info. */
	agent_port(t->a, false, T0 + USEC_PER_SEC);
	agent_port(t->a, true, T0 + 2 * USEC_PER_SEC);
	connect_agent(t, T0 + 3 * USEC_PER_SEC);
	agent_port(t->a, false, T0 + 4 * USEC_PER_SEC);
	/* After 10 s, once more. */
	agent_port(t->a, true, T0 + 20 * USEC_PER_SEC);
	connect_agent(t, T0 + 21 * USEC_PER_SEC);
	agent_port(t->a, false, T0 + 22 * USEC_PER_SEC);
}

/* The guest's words reach the log escaped, and a guest flapping its port cannot fill the log. */
static void test_log(void **state)
{
	struct t t;
	const char *log, *l;
	int answered = 0, gone = 0;

	(void)state;
	setup_pair(&t);
	log = capture_log(forge_and_flap, &t);
	teardown_pair(&t);
	for (l = log; (l = strstr(l, "the guest agent answered")); l++)
		answered++;
	for (l = log; (l = strstr(l, "the guest agent went away")); l++)
		gone++;
	assert_int_equal(answered, 2);
	assert_int_equal(gone, 2);
	assert_non_null(strstr(log, "says the guest runs Evil\\x0avgpuvm: error: forged (kernel \\x1b[2J)"));
	/* No line of the log begins with the forged text, and no escape character got through. */
	assert_null(strstr(log, "\nvgpuvm: error: forged"));
	assert_null(strchr(log, 0x1b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absent),	     cmocka_unit_test(test_connect_and_status),
		cmocka_unit_test(test_port_changes), cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_log),
	};

	return cmocka_run_group_tests_name("agent", tests, NULL, NULL);
}
