/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/host/host.h"
#include "supervisor/host/tap.h"
#include "util/errmsg.h"
#include "util/macro.h"

/* A link's reply carries its statistics too: a few KiB. */
#define NL_REPLY_MAX 32768

struct nl_req {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char attrs[256];
};

static void nl_init(struct nl_req *r, uint16_t type, uint16_t flags, int ifindex)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->h.nlmsg_seq = 1;
	r->i.ifi_family = AF_UNSPEC;
	r->i.ifi_index = ifindex;
}

static void nl_attr(struct nl_req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	/* The requests here are a few small attributes: attrs has room for them all. */
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/*
 * Sends one request and reads the answer into reply (when given): the link it asked for (returns its length), or the
 * kernel's acknowledgement (returns 0) or error (a negative errno).
 */
static int nl_talk(struct nl_req *req, char *reply, size_t size)
{
	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	_cleanup_free_ char *own = NULL;
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	if (!reply) {
		reply = own = malloc(NL_REPLY_MAX);
		size = NL_REPLY_MAX;
		if (!own)
			return -ENOMEM;
	}
	if (sendto(fd, req, req->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return negative_errno();
	for (;;) {
		struct sockaddr_nl from = {};
		socklen_t from_len = sizeof(from);

		do
			n = recvfrom(fd, reply, size, 0, (struct sockaddr *)&from, &from_len);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return negative_errno();
		/* Only the kernel's word counts (port 0), never a message another process sent to this socket. */
		if (from.nl_pid != 0)
			continue;
		for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != req->h.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error;
			}
			if (h->nlmsg_type == RTM_NEWLINK) {
				/* The link comes first and its acknowledgement after: the link is what was asked for.
				 */
				size_t len = h->nlmsg_len;

				memmove(reply, h, len);
				return (int)len;
			}
		}
	}
}

static void parse_tun_data(struct rtattr *data, struct tap_link *l)
{
	int len = (int)RTA_PAYLOAD(data);

	for (struct rtattr *a = RTA_DATA(data); RTA_OK(a, len); a = RTA_NEXT(a, len))
		switch (a->rta_type) {
		case IFLA_TUN_TYPE:
			l->tap = *(uint8_t *)RTA_DATA(a) == IFF_TAP;
			break;
		case IFLA_TUN_MULTI_QUEUE:
			l->multi_queue = *(uint8_t *)RTA_DATA(a) != 0;
			break;
		case IFLA_TUN_OWNER:
			l->owner = *(uint32_t *)RTA_DATA(a);
			break;
		case IFLA_TUN_GROUP:
			l->group = *(uint32_t *)RTA_DATA(a);
			break;
		}
}

/* h is a message of the reply recv() wrote, checked by NLMSG_OK(); the analyzer does not see recv() fill it. */
ANALYZER_IGNORE_BEGIN("-Wanalyzer-use-of-uninitialized-value")
static void parse_link(struct nlmsghdr *h, struct tap_link *l)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);

	*l = (struct tap_link){ .ifindex = ifi->ifi_index, .owner = -1, .group = -1 };
	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_MTU)
			l->mtu = *(uint32_t *)RTA_DATA(a);
		else if (a->rta_type == IFLA_LINKINFO) {
			int ilen = (int)RTA_PAYLOAD(a);
			struct rtattr *data = NULL;

			for (struct rtattr *i = RTA_DATA(a); RTA_OK(i, ilen); i = RTA_NEXT(i, ilen))
				if (i->rta_type == IFLA_INFO_KIND)
					snprintf(l->kind, sizeof(l->kind), "%.*s", (int)RTA_PAYLOAD(i),
						 (char *)RTA_DATA(i));
				else if (i->rta_type == IFLA_INFO_DATA)
					data = i;
			/* The kind comes before its data, but the order is not promised: read the data last. */
			if (data && strcmp(l->kind, "tun") == 0)
				parse_tun_data(data, l);
		}
	}
}
ANALYZER_IGNORE_END

static int link_get(const char *name, int ifindex, struct tap_link *ret, char *ret_name, size_t name_size)
{
	_cleanup_free_ char *reply = malloc(NL_REPLY_MAX);
	struct nl_req req;
	int r;

	if (!reply)
		return -ENOMEM;
	nl_init(&req, RTM_GETLINK, 0, ifindex);
	if (name) {
		if (strlen(name) >= IFNAMSIZ)
			return -ENODEV;
		nl_attr(&req, IFLA_IFNAME, name, strlen(name) + 1);
	}
	r = nl_talk(&req, reply, NL_REPLY_MAX);
	if (r == 0)
		return -EIO; /* an acknowledgement without the link */
	if (r < 0)
		return r == -ENOENT ? -ENODEV : r;
	parse_link((struct nlmsghdr *)reply, ret);
	if (ret_name) {
		struct nlmsghdr *h = (struct nlmsghdr *)reply;
		int len = (int)IFLA_PAYLOAD(h);

		ret_name[0] = 0;
		for (struct rtattr *a = IFLA_RTA((struct ifinfomsg *)NLMSG_DATA(h)); RTA_OK(a, len);
		     a = RTA_NEXT(a, len))
			if (a->rta_type == IFLA_IFNAME)
				snprintf(ret_name, name_size, "%.*s", (int)RTA_PAYLOAD(a), (char *)RTA_DATA(a));
	}
	return 0;
}

int tap_link_get(const char *name, struct tap_link *ret)
{
	return link_get(name, 0, ret, NULL, 0);
}

/* Opens /dev/net/tun and attaches the fd to the tap called name, with flags besides IFF_TAP. */
static int tun_attach(const char *name, int flags)
{
	_cleanup_free_ char *path = host_path(host_dev_root(), "net/tun");
	_cleanup_close_ int fd = -1;
	struct ifreq ifr = {};

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return negative_errno();
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	/* A virtio-net header lets QEMU pass checksum and segmentation offloads through, as libvirt's taps do. */
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | flags);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return negative_errno();
	return TAKE_FD(fd);
}

int tap_check_bridge(const char *bridge, struct tap_link *ret, char **ret_error)
{
	int r = tap_link_get(bridge, ret);

	if (r == -ENODEV)
		return errmsg(ret_error, r,
			      "there is no bridge %s; make one (ip link add %s type bridge && ip link set %s up, "
			      "or with NetworkManager or systemd-networkd) or name another in \"bridge\"",
			      bridge, bridge, bridge);
	if (r < 0)
		return errmsg(ret_error, r, "cannot look up bridge %s: %s", bridge, strerror(-r));
	if (strcmp(ret->kind, "bridge") != 0)
		return errmsg(ret_error, -EMEDIUMTYPE,
			      "%s is not a Linux bridge (it is %s%s); name one in \"bridge\" "
			      "(ip -d link show type bridge lists them)",
			      bridge, ret->kind[0] ? "of kind " : "a plain device", ret->kind);
	return 0;
}

int tap_check_free(const char *name, char **ret_error)
{
	struct tap_link l;
	int r = tap_link_get(name, &l);

	if (r == 0)
		return errmsg(ret_error, -EEXIST,
			      "a network interface called %s exists already, and vgpuvm names the tap of "
			      "a bridge NIC so: delete it (ip link delete %s) if it is left over, or rename the VM",
			      name, name);
	return r == -ENODEV ? 0 : errmsg(ret_error, r, "cannot look up %s: %s", name, strerror(-r));
}

int tap_check_tap(const char *name, struct tap_link *ret, char **ret_error)
{
	int r = tap_link_get(name, ret);

	if (r == -ENODEV)
		return errmsg(ret_error, r,
			      "there is no tap %s; make it (ip tuntap add %s mode tap) or name another in \"tap\"",
			      name, name);
	if (r < 0)
		return errmsg(ret_error, r, "cannot look up tap %s: %s", name, strerror(-r));
	if (strcmp(ret->kind, "tun") != 0 || !ret->tap)
		return errmsg(ret_error, -EMEDIUMTYPE,
			      "%s is not a tap (it is %s); make one with ip tuntap add NAME mode tap", name,
			      strcmp(ret->kind, "tun") == 0 ? "a tun device"
			      : ret->kind[0]		    ? ret->kind
							    : "a plain device");
	return 0;
}

int tap_create(const char *name, const char *bridge, int *ret_fd, int *ret_ifindex, char **ret_error)
{
	_cleanup_close_ int fd = -1;
	struct tap_link br, tap;
	unsigned up = IFF_UP;
	struct nl_req req;
	uint32_t master;
	int r;

	if ((r = tap_check_bridge(bridge, &br, ret_error)) < 0)
		return r;
	/* IFF_TUN_EXCL: an interface of that name, whoever's, is never taken over. */
	fd = tun_attach(name, IFF_TUN_EXCL);
	if (fd == -EBUSY || fd == -EEXIST)
		return tap_check_free(name, ret_error) < 0 ? -EEXIST : errmsg(ret_error, -EEXIST, "%s is taken", name);
	if (fd == -EPERM || fd == -EACCES)
		return errmsg(ret_error, -EPERM, "making tap %s needs CAP_NET_ADMIN: run vgpuvm as root", name);
	if (fd < 0)
		return errmsg(ret_error, fd, "cannot make tap %s: %s", name, strerror(-fd));
	if ((r = tap_link_get(name, &tap)) < 0)
		return errmsg(ret_error, r, "cannot look up the new tap %s: %s", name, strerror(-r));

	/* On the bridge, with its MTU (a smaller one would drop the bridge's large frames), and up. */
	master = (uint32_t)br.ifindex;
	nl_init(&req, RTM_NEWLINK, 0, tap.ifindex);
	req.i.ifi_flags = up;
	req.i.ifi_change = up;
	nl_attr(&req, IFLA_MASTER, &master, sizeof(master));
	if (br.mtu)
		nl_attr(&req, IFLA_MTU, &br.mtu, sizeof(br.mtu));
	r = nl_talk(&req, NULL, 0);
	if (r < 0)
		return errmsg(ret_error, r, "cannot put tap %s on bridge %s: %s", name, bridge, strerror(-r));
	*ret_ifindex = tap.ifindex;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int tap_open(const char *name, char **ret_error)
{
	struct tap_link l;
	int r, fd;

	if ((r = tap_check_tap(name, &l, ret_error)) < 0)
		return r;
	fd = tun_attach(name, l.multi_queue ? IFF_MULTI_QUEUE : 0);
	if (fd == -EBUSY)
		return errmsg(ret_error, fd, "tap %s is in use (another VM or program has it open)", name);
	if (fd < 0)
		return errmsg(ret_error, fd, "cannot open tap %s: %s", name, strerror(-fd));
	return fd;
}

int tap_check_owner(const char *name, uid_t uid, const gid_t *groups, size_t n_groups, char **ret_error)
{
	struct tap_link l;
	int r;

	if ((r = tap_check_tap(name, &l, ret_error)) < 0)
		return r;
	if (l.owner == (long)uid)
		return 0;
	for (size_t i = 0; i < n_groups; i++)
		if (l.group == (long)groups[i])
			return 0;
	return errmsg(ret_error, -EPERM,
		      "QEMU runs as uid %ld and may not open tap %s (%s); as root, give it to that "
		      "user (ip tuntap del %s mode tap; ip tuntap add %s mode tap user %ld) or run vgpuvm as root",
		      (long)uid, name,
		      l.owner < 0 && l.group < 0 ? "it has no owner, so only root may" : "it is another user's", name,
		      name, (long)uid);
}

int tap_delete(const char *name, int ifindex)
{
	char now[IFNAMSIZ];
	struct tap_link l;
	struct nl_req req;
	int r;

	/*
	 * Without its index the tap was never made, or died with its maker: a supervisor records the index before QEMU
	 * gets the tap, and until then it alone holds the fd. Whatever has the name now is not vgpuvm's.
	 */
	if (ifindex <= 0)
		return 1;
	r = link_get(NULL, ifindex, &l, now, sizeof(now));
	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	/* Only the tap that was made: an interface that has its name or its index since is somebody else's. */
	if (strcmp(now, name) != 0 || strcmp(l.kind, "tun") != 0)
		return 1;
	nl_init(&req, RTM_DELLINK, 0, l.ifindex);
	r = nl_talk(&req, NULL, 0);
	return r == -ENODEV ? 0 : r;
}

int tap_netns(uint64_t *ret)
{
	_cleanup_free_ char *path = host_path(host_proc_root(), "self/ns/net");
	struct stat st;

	if (!path)
		return -ENOMEM;
	if (stat(path, &st) < 0)
		return negative_errno();
	*ret = (uint64_t)st.st_ino;
	return 0;
}
