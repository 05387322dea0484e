/* Encoders for the ipset (NFNL_SUBSYS_IPSET) and conntrack (NFNL_SUBSYS_CTNETLINK) messages the helper sends.
 * Protocol 6 is used throughout: every kernel from 2.6.39 on accepts it, 4.x NAS kernels know no other. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/ipset/ip_set.h>
#include "wire.h"

#define SIPA_IPSET_PROTOCOL 6
/* hash:net revision 6 (skbinfo) is known to every kernel we target (4.2 and later); it has timeouts. */
#define SIPA_HASH_NET_REVISION 6

static int nfproto(int family) { return family == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4; }

static void *put(struct nlbuf *b, size_t n)
{
	size_t padded = NLMSG_ALIGN(n);
	if (b->len + padded > b->cap)
		return NULL;
	void *p = b->data + b->len;
	memset(p, 0, padded);
	b->len += padded;
	return p;
}

static int msg_begin(struct nlbuf *b, uint16_t type, uint16_t flags, uint32_t seq, int family)
{
	struct nlmsghdr *h = put(b, NLMSG_HDRLEN);
	struct nfgenmsg *g = put(b, sizeof(struct nfgenmsg));
	if (!h || !g)
		return -ENOBUFS;
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	h->nlmsg_seq = seq;
	g->nfgen_family = (uint8_t)family;
	g->version = NFNETLINK_V0;
	g->res_id = htons(0);
	return 0;
}

static void msg_end(struct nlbuf *b, size_t start)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(b->data + start);
	h->nlmsg_len = (uint32_t)(b->len - start);
}

static int attr(struct nlbuf *b, uint16_t type, const void *data, size_t n)
{
	struct nlattr *a = put(b, NLA_HDRLEN + n);
	if (!a)
		return -ENOBUFS;
	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + n);
	if (n)
		memcpy((uint8_t *)a + NLA_HDRLEN, data, n);
	return 0;
}

static int attr_u8(struct nlbuf *b, uint16_t type, uint8_t v) { return attr(b, type, &v, 1); }
static int attr_u32(struct nlbuf *b, uint16_t type, uint32_t v) { return attr(b, type, &v, 4); }
static int attr_be32(struct nlbuf *b, uint16_t type, uint32_t v)
{
	v = htonl(v);
	return attr(b, type | NLA_F_NET_BYTEORDER, &v, 4);
}
static int attr_str(struct nlbuf *b, uint16_t type, const char *s) { return attr(b, type, s, strlen(s) + 1); }

static long nest_begin(struct nlbuf *b, uint16_t type)
{
	size_t off = b->len;
	struct nlattr *a = put(b, NLA_HDRLEN);
	if (!a)
		return -ENOBUFS;
	a->nla_type = type | NLA_F_NESTED;
	return (long)off;
}

static int nest_end(struct nlbuf *b, long off)
{
	size_t n = b->len - (size_t)off;
	if (n > 0xffff)
		return -EMSGSIZE;
	((struct nlattr *)(b->data + off))->nla_len = (uint16_t)n;
	return 0;
}

#define TRY(x) do { if ((x) < 0) goto full; } while (0)

static uint16_t ipset_type(int cmd) { return (uint16_t)((NFNL_SUBSYS_IPSET << 8) | cmd); }

int wire_ipset_create(struct nlbuf *b, uint32_t seq, const char *name, int family, uint32_t hashsize,
		      uint32_t maxelem, uint32_t flags)
{
	size_t start = b->len;
	long data;
	TRY(msg_begin(b, ipset_type(IPSET_CMD_CREATE), NLM_F_REQUEST | NLM_F_ACK, seq, nfproto(family)));
	TRY(attr_u8(b, IPSET_ATTR_PROTOCOL, SIPA_IPSET_PROTOCOL));
	TRY(attr_str(b, IPSET_ATTR_SETNAME, name));
	TRY(attr_str(b, IPSET_ATTR_TYPENAME, "hash:net"));
	TRY(attr_u8(b, IPSET_ATTR_REVISION, SIPA_HASH_NET_REVISION));
	TRY(attr_u8(b, IPSET_ATTR_FAMILY, (uint8_t)nfproto(family)));
	TRY(data = nest_begin(b, IPSET_ATTR_DATA));
	if (flags & SIPA_SET_TIMEOUT)
		TRY(attr_be32(b, IPSET_ATTR_TIMEOUT, 0)); /* timeout support; each entry brings its own */
	TRY(attr_be32(b, IPSET_ATTR_HASHSIZE, hashsize));
	TRY(attr_be32(b, IPSET_ATTR_MAXELEM, maxelem));
	TRY(nest_end(b, data));
	msg_end(b, start);
	return 0;
full:
	b->len = start;
	return -ENOBUFS;
}

int wire_ipset_named(struct nlbuf *b, uint32_t seq, int cmd, const char *name, const char *name2)
{
	size_t start = b->len;
	TRY(msg_begin(b, ipset_type(cmd), NLM_F_REQUEST | NLM_F_ACK, seq, NFPROTO_IPV4));
	TRY(attr_u8(b, IPSET_ATTR_PROTOCOL, SIPA_IPSET_PROTOCOL));
	TRY(attr_str(b, IPSET_ATTR_SETNAME, name));
	if (name2)
		TRY(attr_str(b, IPSET_ATTR_SETNAME2, name2));
	msg_end(b, start);
	return 0;
full:
	b->len = start;
	return -ENOBUFS;
}

int wire_ipset_list(struct nlbuf *b, uint32_t seq, const char *name, int header_only)
{
	size_t start = b->len;
	TRY(msg_begin(b, ipset_type(IPSET_CMD_LIST), NLM_F_REQUEST | NLM_F_DUMP, seq, NFPROTO_IPV4));
	TRY(attr_u8(b, IPSET_ATTR_PROTOCOL, SIPA_IPSET_PROTOCOL));
	TRY(attr_str(b, IPSET_ATTR_SETNAME, name));
	if (header_only)
		TRY(attr_be32(b, IPSET_ATTR_FLAGS, IPSET_FLAG_LIST_HEADER));
	msg_end(b, start);
	return 0;
full:
	b->len = start;
	return -ENOBUFS;
}

static int put_element(struct nlbuf *b, const sipa_entry *e, int with_timeout, uint32_t line)
{
	long data, ip;
	TRY(data = nest_begin(b, IPSET_ATTR_DATA));
	TRY(ip = nest_begin(b, IPSET_ATTR_IP));
	if (e->family == 6)
		TRY(attr(b, IPSET_ATTR_IPADDR_IPV6 | NLA_F_NET_BYTEORDER, e->addr, 16));
	else
		TRY(attr(b, IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER, e->addr, 4));
	TRY(nest_end(b, ip));
	TRY(attr_u8(b, IPSET_ATTR_CIDR, e->prefix));
	/* A permanent entry says so (timeout 0) rather than leave it to the set's default timeout. */
	if (with_timeout && e->timeout)
		TRY(attr_be32(b, IPSET_ATTR_TIMEOUT, e->timeout == SIPA_TIMEOUT_PERMANENT ? 0 : e->timeout));
	if (line)
		TRY(attr_u32(b, IPSET_ATTR_LINENO, line));
	TRY(nest_end(b, data));
	return 0;
full:
	return -ENOBUFS;
}

int wire_ipset_test(struct nlbuf *b, uint32_t seq, const char *name, const sipa_entry *e)
{
	size_t start = b->len;
	TRY(msg_begin(b, ipset_type(IPSET_CMD_TEST), NLM_F_REQUEST | NLM_F_ACK, seq,
		      nfproto(e->family)));
	TRY(attr_u8(b, IPSET_ATTR_PROTOCOL, SIPA_IPSET_PROTOCOL));
	TRY(attr_str(b, IPSET_ATTR_SETNAME, name));
	TRY(put_element(b, e, 0, 0));
	msg_end(b, start);
	return 0;
full:
	b->len = start;
	return -ENOBUFS;
}

uint32_t wire_ipset_adt(struct nlbuf *b, uint32_t seq, const char *name, const sipa_entry *entries, uint32_t n,
			uint32_t first_line)
{
	size_t start = b->len;
	long adt;
	uint32_t k = 0;
	int add = entries[0].op == SIPA_OP_ADD;
	/* No NLM_F_EXCL: an add of a present entry replaces its timeout, a delete of an absent one succeeds. */
	TRY(msg_begin(b, ipset_type(add ? IPSET_CMD_ADD : IPSET_CMD_DEL), NLM_F_REQUEST | NLM_F_ACK, seq,
		      nfproto(entries[0].family)));
	TRY(attr_u8(b, IPSET_ATTR_PROTOCOL, SIPA_IPSET_PROTOCOL));
	TRY(attr_str(b, IPSET_ATTR_SETNAME, name));
	/* The kernel writes the failing element's line number here in its error reply. */
	TRY(attr_u32(b, IPSET_ATTR_LINENO, 0));
	TRY(adt = nest_begin(b, IPSET_ATTR_ADT));
	for (; k < n && entries[k].op == entries[0].op; k++) {
		size_t before = b->len;
		if (put_element(b, &entries[k], add, first_line ? first_line + k : 0) < 0 ||
		    b->len - (size_t)adt > WIRE_ADT_MAX_BYTES) {
			b->len = before;
			break;
		}
	}
	if (k == 0)
		goto full;
	TRY(nest_end(b, adt));
	msg_end(b, start);
	return k;
full:
	b->len = start;
	return 0;
}

static int put_ct_source(struct nlbuf *b, int family, const uint8_t *addr)
{
	long tuple, ip;
	TRY(tuple = nest_begin(b, CTA_TUPLE_ORIG));
	TRY(ip = nest_begin(b, CTA_TUPLE_IP));
	if (family == 6)
		TRY(attr(b, CTA_IP_V6_SRC, addr, 16));
	else
		TRY(attr(b, CTA_IP_V4_SRC, addr, 4));
	TRY(nest_end(b, ip));
	TRY(nest_end(b, tuple));
	return 0;
full:
	return -ENOBUFS;
}

/* CTA_FILTER_F_CTA_IP_SRC in the kernel (not exported in uapi). */
#define SIPA_CTA_FILTER_IP_SRC (1u << 0)

int wire_ct_dump_source(struct nlbuf *b, uint32_t seq, int family, const uint8_t *addr)
{
	size_t start = b->len;
	long filter;
	TRY(msg_begin(b, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, seq,
		      nfproto(family)));
	/* The kernel's IPv6 source filter (5.8 and later) compares with !ipv6_addr_cmp, the wrong way round: it
	 * would return every flow except the ones asked for. IPv6 dumps therefore ask only for the family and the
	 * caller filters (as it always does, for kernels that ignore CTA_FILTER). */
	if (family == 4 && addr) {
		TRY(put_ct_source(b, family, addr));
		TRY(filter = nest_begin(b, CTA_FILTER));
		TRY(attr_u32(b, CTA_FILTER_ORIG_FLAGS, SIPA_CTA_FILTER_IP_SRC));
		TRY(attr_u32(b, CTA_FILTER_REPLY_FLAGS, 0));
		TRY(nest_end(b, filter));
	}
	msg_end(b, start);
	return 0;
full:
	b->len = start;
	return -ENOBUFS;
}

int wire_ct_delete(struct nlbuf *b, uint32_t seq, int family, const uint8_t *tuple, size_t tuple_len,
		   const uint8_t *id, size_t id_len, const uint8_t *zone, size_t zone_len)
{
	size_t start = b->len;
	uint8_t *p;
	/* No ACK: a batch of deletes asks for one on its last message only (the caller sets it); failures are
	 * answered anyway. The attributes are copied as the kernel gave them; each is a whole, aligned nlattr. */
	TRY(msg_begin(b, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST, seq, nfproto(family)));
	if (!(p = put(b, tuple_len)))
		goto full;
	memcpy(p, tuple, tuple_len);
	if (id_len) {
		if (!(p = put(b, id_len)))
			goto full;
		memcpy(p, id, id_len);
	}
	if (zone_len) {
		if (!(p = put(b, zone_len)))
			goto full;
		memcpy(p, zone, zone_len);
	}
	msg_end(b, start);
	return 0;
full:
	b->len = start;
	return -ENOBUFS;
}
