/* Kernel replies made by hand, for the tests: netlink messages appended to an nlbuf as the kernel lays them out. */
#ifndef SIPA_TEST_CRAFT_H
#define SIPA_TEST_CRAFT_H

#include <string.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/ipset/ip_set.h>
#include "../src/wire.h"

/* Appends one attribute (payload p, n bytes) at b; returns where it starts, for nests to close. */
static inline size_t put_attr(struct nlbuf *b, uint16_t type, const void *p, size_t n)
{
	size_t at = b->len;
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + n), .nla_type = type };
	memcpy(b->data + b->len, &a, sizeof a);
	if (n)
		memcpy(b->data + b->len + NLA_HDRLEN, p, n);
	b->len += NLA_ALIGN(NLA_HDRLEN + n);
	return at;
}

static inline void end_nest(struct nlbuf *b, size_t at)
{
	uint16_t len = (uint16_t)(b->len - at);
	memcpy(b->data + at, &len, 2);
}

/* Starts a message: header (length filled by craft_end) and, for netfilter messages, an nfgenmsg. */
static inline size_t craft_begin(struct nlbuf *b, uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid,
				 int family)
{
	size_t at = b->len;
	struct nlmsghdr h = { .nlmsg_type = type, .nlmsg_flags = flags, .nlmsg_seq = seq, .nlmsg_pid = pid };
	memcpy(b->data + at, &h, sizeof h);
	b->len += NLMSG_HDRLEN;
	if (type >= NLMSG_MIN_TYPE) {
		struct nfgenmsg g = { .nfgen_family = (uint8_t)(family == 6 ? 10 : 2) };
		memcpy(b->data + b->len, &g, sizeof g);
		b->len += NLMSG_ALIGN(sizeof g);
	}
	return at;
}

static inline void craft_end(struct nlbuf *b, size_t at)
{
	uint32_t len = (uint32_t)(b->len - at);
	memcpy(b->data + at, &len, sizeof len);
	b->len = at + NLMSG_ALIGN(len);
}

/* A conntrack dump message: original tuple (source, a destination in 192.0.2.0/24, protocol) and an id. */
static inline void craft_ct_flow(struct nlbuf *b, uint32_t seq, uint32_t pid, uint16_t flags, int family,
				 const uint8_t *src, uint8_t l4proto)
{
	static const uint8_t dst[16] = { 192, 0, 2, 1 };
	size_t msg = craft_begin(b, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, flags, seq, pid, family);
	size_t tuple = put_attr(b, CTA_TUPLE_ORIG | NLA_F_NESTED, NULL, 0);
	size_t ip = put_attr(b, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
	put_attr(b, family == 6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, src, family == 6 ? 16 : 4);
	put_attr(b, family == 6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, dst, family == 6 ? 16 : 4);
	end_nest(b, ip);
	size_t proto = put_attr(b, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
	put_attr(b, CTA_PROTO_NUM, &l4proto, 1);
	end_nest(b, proto);
	end_nest(b, tuple);
	uint32_t id = 0x12345678;
	put_attr(b, CTA_ID, &id, 4);
	craft_end(b, msg);
}

/* An ipset LIST reply message with IPv4 members addr[i] (4 bytes each) of prefix[i]; a prefix of 0 leaves
 * IPSET_ATTR_CIDR out, 0xff writes a CIDR of 0. */
static inline void craft_ipset_members(struct nlbuf *b, uint32_t seq, uint32_t pid, uint16_t flags,
				       const uint8_t (*addr)[4], const uint8_t *prefix, unsigned n)
{
	size_t msg = craft_begin(b, (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST, flags, seq, pid, 4);
	size_t adt = put_attr(b, IPSET_ATTR_ADT | NLA_F_NESTED, NULL, 0);
	for (unsigned i = 0; i < n; i++) {
		size_t data = put_attr(b, IPSET_ATTR_DATA | NLA_F_NESTED, NULL, 0);
		size_t ip = put_attr(b, IPSET_ATTR_IP | NLA_F_NESTED, NULL, 0);
		put_attr(b, IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER, addr[i], 4);
		end_nest(b, ip);
		if (prefix[i]) {
			uint8_t cidr = prefix[i] == 0xff ? 0 : prefix[i];
			put_attr(b, IPSET_ATTR_CIDR, &cidr, 1);
		}
		end_nest(b, data);
	}
	end_nest(b, adt);
	craft_end(b, msg);
}

/* NLMSG_DONE carrying the dump's own result (0, or the error that ended it). */
static inline void craft_done(struct nlbuf *b, uint32_t seq, uint32_t pid, uint16_t flags, int32_t result)
{
	size_t msg = craft_begin(b, NLMSG_DONE, NLM_F_MULTI | flags, seq, pid, 0);
	memcpy(b->data + b->len, &result, sizeof result);
	b->len += sizeof result;
	craft_end(b, msg);
}

/* NLMSG_ERROR answering the request with seq (error 0: an ack). */
static inline void craft_ack(struct nlbuf *b, uint32_t seq, uint32_t pid, int32_t error)
{
	size_t msg = craft_begin(b, NLMSG_ERROR, 0, seq, pid, 0);
	struct nlmsgerr e = { .error = error, .msg = { .nlmsg_len = NLMSG_HDRLEN, .nlmsg_seq = seq, .nlmsg_pid = pid } };
	memcpy(b->data + b->len, &e, sizeof e);
	b->len += sizeof e;
	craft_end(b, msg);
}

#endif
