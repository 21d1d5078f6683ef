/* SPDX-License-Identifier: MIT */
/*
 * The QEMU guest agent's protocol, from the host's side: commands out, replies in, as bytes the caller moves. The
 * agent speaks QMP's JSON without a greeting or events, one reply a line; a fresh connection may hold a stale reply
 * of an earlier client, so a conversation begins with guest-sync-delimited: the agent answers it after a 0xFF byte,
 * and everything up to the delimiter and the reply with our own id is discarded. Nothing here does I/O, so a fuzzer
 * and the unit tests feed it bytes; the replies' contents (the guest's OS, its addresses) are read here too.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct qmp_msg;

/* The longest reply line kept; a longer one (thousands of interfaces) is dropped whole. */
#define GA_LINE_MAX (1024 * 1024)

enum ga_reply_type {
	GA_REPLY_SYNCED, /* the agent answered guest-sync-delimited with our id: what follows is fresh */
	GA_REPLY_RETURN, /* .id, .data */
	GA_REPLY_ERROR,	 /* .id, .error_class, .error_desc */
	GA_REPLY_TYPE_MAX,
};

struct ga_reply {
	enum ga_reply_type type;
	uint64_t id;		  /* RETURN, ERROR: the id of the command it answers */
	struct json_object *data; /* RETURN: the "return" value; borrowed from msg */
	const char *error_class;  /* ERROR; borrowed */
	const char *error_desc;	  /* ERROR; borrowed */
	struct qmp_msg *msg;	  /* owns what the pointers above point into; NULL for SYNCED */
};

/* Frees what a reply holds. Accepts a reply that holds nothing. */
void ga_reply_done(struct ga_reply *r);

struct ga;

int ga_new(struct ga **ret);
/* Accepts NULL. */
void ga_free(struct ga *g);

/*
 * Begins a conversation: forgets what was read and what was queued and not yet sent, and queues a 0xFF byte (which
 * resets the agent's parser) and guest-sync-delimited with sync_id (below 2^53, so that JSON carries it exactly).
 * Until the reply comes, nothing but GA_REPLY_SYNCED comes out of ga_next().
 */
int ga_sync(struct ga *g, uint64_t sync_id);

/* Whether the agent answered the last ga_sync(). */
bool ga_synced(const struct ga *g);

/* Queues a command with args (borrowed; NULL for none); *ret_id (optional) gets the id its reply will carry. */
int ga_send(struct ga *g, const char *command, struct json_object *args, uint64_t *ret_id);

/* The bytes queued for the agent, and how many of them were written. */
void ga_output(const struct ga *g, const char **ret_buf, size_t *ret_len);
void ga_output_consume(struct ga *g, size_t n);

/* Appends bytes the agent sent. -ENOMEM only. Memory stays bounded by about GA_LINE_MAX. */
int ga_feed(struct ga *g, const void *buf, size_t len);

/*
 * Takes the next reply out: 1 with *ret filled (free it with ga_reply_done()), 0 when more bytes are needed,
 * -EBADMSG for a line that is not a reply to one of our commands (consumed; go on calling), -ENOMEM.
 */
int ga_next(struct ga *g, struct ga_reply *ret);

/* Why the last -EBADMSG happened; owned by g. */
const char *ga_error(const struct ga *g);

/* The guest's OS, from guest-get-osinfo's return. Each string is NULL when the agent did not give it. */
struct ga_osinfo {
	char *name;	      /* "Debian GNU/Linux", "Microsoft Windows" */
	char *pretty_name;    /* "Debian GNU/Linux 12 (bookworm)" */
	char *version;	      /* "12 (bookworm)" */
	char *kernel_release; /* "6.1.0-18-amd64", "22621" */
	char *machine;	      /* "x86_64" */
};

/* Fills ret from the return value; strings that are not strings, hold a NUL or are not UTF-8 are left out. -EBADMSG
 * when v is not an object, -ENOMEM. */
int ga_osinfo_parse(struct json_object *v, struct ga_osinfo *ret);
void ga_osinfo_done(struct ga_osinfo *o);

#define GA_IFNAME_MAX 64
#define GA_ADDRESS_MAX 46 /* INET6_ADDRSTRLEN */

struct ga_address {
	char ifname[GA_IFNAME_MAX];
	char address[GA_ADDRESS_MAX]; /* checked with inet_pton() */
	unsigned prefix;
	bool ipv6;
};

/*
 * The guest's addresses from guest-network-get-interfaces' return, loopback ones left out, at most max into ret; what
 * is malformed is skipped. Returns how many, or -EBADMSG when v is not an array.
 */
int ga_addresses_parse(struct json_object *v, struct ga_address *ret, size_t max);
