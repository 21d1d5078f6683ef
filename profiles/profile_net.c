/* SPDX-License-Identifier: MIT */
/*
 * The profile's NICs. A NIC is QEMU's user networking (with host ports forwarded to the guest), a tap vgpuvm makes on
 * a bridge, or a tap the user made. Only what the profile says is checked here; whether the bridge or the tap exists
 * is for the supervisor to find out when the VM starts.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "profiles/profile.h"
#include "profiles/profile_field.h"
#include "profiles/profile_net.h"

/*
 * The namespace of vgpuvm's name-derived MACs (UUIDv5 of "NAME/INDEX"): the guest sees the same address every boot,
 * so its DHCP lease and its idea of which interface is which survive a restart.
 */
static const char mac_namespace[] = "4d2c4f5e-1d0a-4b8e-9a57-2f6c0b3e8d71";

const char *const profile_net_keys[] = { "type", "model", "mac", "bridge", "tap", "forward", NULL };
const char *const profile_forward_keys[] = { "proto", "address", "host", "guest", NULL };

/* The NIC models a guest has drivers for out of the box; QEMU has more, but each here is one a guest OS expects. */
static const char *const models[] = { "virtio-net-pci", "e1000e", "e1000", "rtl8139", NULL };

/* QEMU runs without privileges: it cannot listen below this port. */
#define PORT_UNPRIVILEGED 1024

bool profile_ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PROFILE_IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ',' || isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return false;
	return true;
}

/* FNV-1a: a short, stable hash of a name, for the taps of names too long to fit. */
static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void profile_net_tap_name(const char *name, unsigned index, char *buf)
{
	char suffix[16], hash[8];
	size_t n = strlen(name), ns, keep;

	/* index < PROFILE_NICS_MAX: the suffix is 3 bytes, and the name keeps at least 7. */
	ns = (size_t)snprintf(suffix, sizeof(suffix), "-t%u", index % 100);
	if (n + ns <= PROFILE_IFNAME_MAX) {
		memcpy(buf, name, n);
		memcpy(buf + n, suffix, ns + 1);
		return;
	}
	snprintf(hash, sizeof(hash), "-%04x", (unsigned)(hash_name(name) & 0xffff));
	keep = PROFILE_IFNAME_MAX - ns - strlen(hash);
	memcpy(buf, name, keep);
	memcpy(buf + keep, hash, strlen(hash));
	memcpy(buf + keep + strlen(hash), suffix, ns + 1);
}

void profile_net_format_mac(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* A MAC from the VM's name and the NIC's index: locally administered, unicast, 46 bits of a SHA-1. */
static int derive_mac(const char *name, size_t index, uint8_t mac[6])
{
	_cleanup_free_ char *s = NULL;
	uuid_t ns, out;

	if (uuid_parse(mac_namespace, ns) < 0)
		return -EINVAL;
	if (asprintf(&s, "%s/%zu", name, index) < 0)
		return -ENOMEM;
	uuid_generate_sha1(out, ns, s, strlen(s));
	memcpy(mac, out, 6);
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
	return 0;
}

static int parse_mac(struct profile_parse_ctx *c, const char *field, const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6)
		return profile_field_fail(c, field, "expected a MAC address like \"52:54:00:12:34:56\", got \"%s\"", s);
	for (size_t i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]))
			return profile_field_fail(c, field,
						  "expected a MAC address like \"52:54:00:12:34:56\", got \"%s\"", s);
		mac[i] = (uint8_t)v[i];
	}
	if (mac[0] & 1)
		return profile_field_fail(c, field,
					  "%s is a multicast address; a NIC needs a unicast one (an even first "
					  "byte), e.g. \"52:54:00:12:34:56\", or leave \"mac\" out for a stable one",
					  s);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return profile_field_fail(c, field,
					  "00:00:00:00:00:00 is no address; leave \"mac\" out for a stable one");
	return 0;
}

static int parse_forward(struct profile_parse_ctx *c, json_object *o, const char *prefix, struct profile_forward *f)
{
	_cleanup_free_ char *s = NULL;
	char field[96];
	json_object *v;
	struct in_addr a;
	int r;

	if ((r = profile_field_object(c, o, prefix)) < 0 ||
	    (r = profile_field_keys(c, o, prefix, profile_forward_keys)) < 0)
		return r;
	f->proto = PROFILE_FORWARD_TCP;
	snprintf(f->address, sizeof(f->address), "127.0.0.1");
	snprintf(field, sizeof(field), "%s.proto", prefix);
	if (json_object_object_get_ex(o, "proto", &v)) {
		if ((r = profile_field_string(c, v, field, &s)) < 0)
			return r;
		if (strcmp(s, "tcp") == 0)
			f->proto = PROFILE_FORWARD_TCP;
		else if (strcmp(s, "udp") == 0)
			f->proto = PROFILE_FORWARD_UDP;
		else
			return profile_field_fail(c, field, "expected \"tcp\" or \"udp\", got \"%s\"", s);
		s = mfree(s);
	}
	snprintf(field, sizeof(field), "%s.address", prefix);
	if (json_object_object_get_ex(o, "address", &v)) {
		if ((r = profile_field_string(c, v, field, &s)) < 0)
			return r;
		/* Only a literal: a name would be looked up by QEMU, and "any" must be asked for as 0.0.0.0. */
		if (inet_pton(AF_INET, s, &a) != 1)
			return profile_field_fail(c, field,
						  "expected an IPv4 address like \"127.0.0.1\" (the default: this "
						  "host only) or \"0.0.0.0\" (every address), got \"%s\"",
						  s);
		inet_ntop(AF_INET, &a, f->address, sizeof(f->address));
	}
	snprintf(field, sizeof(field), "%s.host", prefix);
	if (!json_object_object_get_ex(o, "host", &v))
		return profile_field_fail(c, field, "missing; the host port to forward, e.g. \"host\": 2222");
	if ((r = profile_field_uint(c, v, field, 1, 65535, &f->host)) < 0)
		return r;
	if (f->host < PORT_UNPRIVILEGED)
		return profile_field_fail(c, field,
					  "QEMU runs without privileges and cannot listen on port %u; pick a "
					  "host port from 1024 to 65535 (e.g. %u)",
					  f->host, f->host + 2000 < 65536 ? f->host + 2000 : 2222);
	snprintf(field, sizeof(field), "%s.guest", prefix);
	if (!json_object_object_get_ex(o, "guest", &v))
		return profile_field_fail(c, field, "missing; the guest port it goes to, e.g. \"guest\": 22");
	return profile_field_uint(c, v, field, 1, 65535, &f->guest);
}

/*
 * What is allocated here belongs to the profile from then on, through p->nics[i] (profile_free()). GCC 12's analyzer
 * loses that ownership once struct profile grew (shares, usb, agent) and calls it leaked on every early return.
 */
ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
static int parse_forwards(struct profile_parse_ctx *c, json_object *a, const char *prefix, struct profile_nic *nic)
{
	char field[64], buf[64];
	size_t n;
	int r;

	snprintf(field, sizeof(field), "%s.forward", prefix);
	if (!json_object_is_type(a, json_type_array))
		return profile_field_fail(c, field, "expected a list [{\"host\": 2222, \"guest\": 22}, ...], got %s",
					  profile_field_show(a, buf, sizeof(buf)));
	n = json_object_array_length(a);
	if (n > PROFILE_FORWARDS_MAX)
		return profile_field_fail(c, field, "at most %d forwards", PROFILE_FORWARDS_MAX);
	nic->forwards = calloc(n ? n : 1, sizeof(*nic->forwards));
	if (!nic->forwards)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct profile_forward *f = &nic->forwards[i];
		char item[80];

		snprintf(item, sizeof(item), "%s[%zu]", field, i);
		if ((r = parse_forward(c, json_object_array_get_idx(a, i), item, f)) < 0)
			return r;
		nic->n_forwards = i + 1;
	}
	return 0;
}
ANALYZER_IGNORE_END

/* The same host port twice (on one address, or on one and every address) is a forward QEMU cannot set up. */
static int check_forwards_unique(struct profile_parse_ctx *c, const struct profile *p)
{
	for (size_t a = 0; a < p->n_nics; a++)
		for (size_t i = 0; i < p->nics[a].n_forwards; i++)
			for (size_t b = a; b < p->n_nics; b++)
				for (size_t j = b == a ? i + 1 : 0; j < p->nics[b].n_forwards; j++) {
					const struct profile_forward *x = &p->nics[a].forwards[i],
								     *y = &p->nics[b].forwards[j];
					char field[64];

					if (x->proto != y->proto || x->host != y->host ||
					    (strcmp(x->address, y->address) != 0 &&
					     strcmp(x->address, "0.0.0.0") != 0 && strcmp(y->address, "0.0.0.0") != 0))
						continue;
					snprintf(field, sizeof(field), "net[%zu].forward[%zu].host", b, j);
					return profile_field_fail(
					    c, field,
					    "%s port %u is forwarded twice; each host port can go "
					    "to one guest port only",
					    profile_forward_proto_to_string(y->proto), y->host);
				}
	return 0;
}

static int parse_ifname(struct profile_parse_ctx *c, json_object *v, const char *field, const char *what, char **ret)
{
	int r;

	if ((r = profile_field_string(c, v, field, ret)) < 0)
		return r;
	if (!profile_ifname_valid(*ret))
		return profile_field_fail(
		    c, field, "\"%s\" is not a %s name: 1-15 characters, no '/', ':', ',' or space", *ret, what);
	return 0;
}

/* As parse_forwards(): nic is p->nics[index], which the profile owns; the analyzer loses that. */
ANALYZER_IGNORE_BEGIN("-Wanalyzer-malloc-leak")
static int parse_nic(struct profile_parse_ctx *c, json_object *o, const char *prefix, size_t index, struct profile *p,
		     struct profile_nic *nic)
{
	_cleanup_free_ char *type = NULL, *mac = NULL;
	char field[64];
	json_object *v;
	int r;

	if ((r = profile_field_object(c, o, prefix)) < 0 ||
	    (r = profile_field_keys(c, o, prefix, profile_net_keys)) < 0)
		return r;
	/* The type may be left out where the other keys say it. */
	nic->type = json_object_object_get_ex(o, "bridge", NULL) ? PROFILE_NIC_BRIDGE
		    : json_object_object_get_ex(o, "tap", NULL)	 ? PROFILE_NIC_TAP
								 : PROFILE_NIC_USER;
	snprintf(field, sizeof(field), "%s.type", prefix);
	if (json_object_object_get_ex(o, "type", &v)) {
		if ((r = profile_field_string(c, v, field, &type)) < 0)
			return r;
		for (nic->type = 0; nic->type < PROFILE_NIC_TYPE_MAX; nic->type++)
			if (strcmp(type, profile_nic_type_to_string(nic->type)) == 0)
				break;
		if (nic->type == PROFILE_NIC_TYPE_MAX)
			return profile_field_fail(c, field, "expected \"user\", \"bridge\" or \"tap\", got \"%s\"",
						  type);
	}

	snprintf(field, sizeof(field), "%s.bridge", prefix);
	if (json_object_object_get_ex(o, "bridge", &v)) {
		if (nic->type != PROFILE_NIC_BRIDGE)
			return profile_field_fail(c, field,
						  "only a \"bridge\" NIC goes on a bridge; set \"type\": \"bridge\"");
		if ((r = parse_ifname(c, v, field, "bridge", &nic->bridge)) < 0)
			return r;
	} else if (nic->type == PROFILE_NIC_BRIDGE)
		return profile_field_fail(c, field, "missing; name the host's bridge, e.g. \"bridge\": \"br0\"");

	snprintf(field, sizeof(field), "%s.tap", prefix);
	if (json_object_object_get_ex(o, "tap", &v)) {
		if (nic->type == PROFILE_NIC_BRIDGE)
			return profile_field_fail(c, field,
						  "a bridge NIC's tap is made by vgpuvm and named after the VM; "
						  "remove \"tap\", or use \"type\": \"tap\" for a tap you made");
		if (nic->type != PROFILE_NIC_TAP)
			return profile_field_fail(c, field, "only a \"tap\" NIC takes a tap; set \"type\": \"tap\"");
		if ((r = parse_ifname(c, v, field, "tap", &nic->tap)) < 0)
			return r;
	} else if (nic->type == PROFILE_NIC_TAP)
		return profile_field_fail(c, field,
					  "missing; name the tap you made (ip tuntap add NAME mode tap), "
					  "e.g. \"tap\": \"tap0\"");
	if (nic->type == PROFILE_NIC_BRIDGE) {
		char name[PROFILE_IFNAME_MAX + 1];

		profile_net_tap_name(p->name, (unsigned)index, name);
		if (!(nic->tap = strdup(name)))
			return -ENOMEM;
	}

	snprintf(field, sizeof(field), "%s.forward", prefix);
	if (json_object_object_get_ex(o, "forward", &v)) {
		if (nic->type != PROFILE_NIC_USER)
			return profile_field_fail(c, field,
						  "only \"user\" networking forwards ports; a %s NIC is on the "
						  "host's network already",
						  profile_nic_type_to_string(nic->type));
		if ((r = parse_forwards(c, v, prefix, nic)) < 0)
			return r;
	}

	snprintf(field, sizeof(field), "%s.model", prefix);
	if (json_object_object_get_ex(o, "model", &v)) {
		const char *const *m;

		if ((r = profile_field_string(c, v, field, &nic->model)) < 0)
			return r;
		for (m = models; *m && strcmp(*m, nic->model) != 0; m++)
			;
		if (!*m)
			return profile_field_fail(
			    c, field,
			    "expected \"virtio-net-pci\" (the default), \"e1000e\" (for a "
			    "Windows install without virtio drivers), \"e1000\" or \"rtl8139\", got \"%s\"",
			    nic->model);
	} else if (!(nic->model = strdup(models[0])))
		return -ENOMEM;

	snprintf(field, sizeof(field), "%s.mac", prefix);
	if (json_object_object_get_ex(o, "mac", &v)) {
		if ((r = profile_field_string(c, v, field, &mac)) < 0 || (r = parse_mac(c, field, mac, nic->mac)) < 0)
			return r;
	} else {
		nic->mac_auto = true;
		if ((r = derive_mac(p->name, index, nic->mac)) < 0)
			return r;
	}
	for (size_t i = 0; i < index; i++)
		if (memcmp(p->nics[i].mac, nic->mac, 6) == 0)
			return profile_field_fail(c, field, "net[%zu] has this MAC already; each NIC needs its own", i);
	return 0;
}
ANALYZER_IGNORE_END

int profile_net_parse(struct profile_parse_ctx *c, json_object *v, struct profile *p)
{
	char buf[64];
	size_t n;
	int r;

	if (!json_object_is_type(v, json_type_array))
		return profile_field_fail(c, "net", "expected a list of NICs [{\"type\": \"user\"}, ...], got %s",
					  profile_field_show(v, buf, sizeof(buf)));
	n = json_object_array_length(v);
	if (n > PROFILE_NICS_MAX)
		return profile_field_fail(c, "net", "at most %d NICs", PROFILE_NICS_MAX);
	p->nics = calloc(n ? n : 1, sizeof(*p->nics));
	if (!p->nics)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char prefix[32];

		p->n_nics = i + 1;
		snprintf(prefix, sizeof(prefix), "net[%zu]", i);
		if ((r = parse_nic(c, json_object_array_get_idx(v, i), prefix, i, p, &p->nics[i])) < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (p->nics[i].type == PROFILE_NIC_TAP && p->nics[j].type == PROFILE_NIC_TAP &&
			    strcmp(p->nics[i].tap, p->nics[j].tap) == 0) {
				char field[32];

				snprintf(field, sizeof(field), "net[%zu].tap", j);
				return profile_field_fail(
				    c, field, "net[%zu] uses tap %s already; a tap serves one NIC", i, p->nics[j].tap);
			}
	return check_forwards_unique(c, p);
}

json_object *profile_net_to_json(const struct profile *p)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < p->n_nics; i++) {
		const struct profile_nic *nic = &p->nics[i];
		json_object *o = json_object_new_object(), *fw = json_object_new_array();
		char mac[18];

		profile_net_format_mac(nic->mac, mac);
		json_object_object_add(o, "type", json_object_new_string(profile_nic_type_to_string(nic->type)));
		json_object_object_add(o, "model", json_object_new_string(nic->model));
		json_object_object_add(o, "mac", json_object_new_string(mac));
		json_object_object_add(o, "bridge", nic->bridge ? json_object_new_string(nic->bridge) : NULL);
		json_object_object_add(o, "tap", nic->tap ? json_object_new_string(nic->tap) : NULL);
		for (size_t j = 0; j < nic->n_forwards; j++) {
			const struct profile_forward *f = &nic->forwards[j];
			json_object *e = json_object_new_object();

			json_object_object_add(e, "proto",
					       json_object_new_string(profile_forward_proto_to_string(f->proto)));
			json_object_object_add(e, "address", json_object_new_string(f->address));
			json_object_object_add(e, "host", json_object_new_int(f->host));
			json_object_object_add(e, "guest", json_object_new_int(f->guest));
			json_object_array_add(fw, e);
		}
		json_object_object_add(o, "forward", fw);
		json_object_array_add(a, o);
	}
	return a;
}
