/* Reply parsing. Every length comes from the kernel (or, in the fuzz target, from anyone): each is checked
 * against what contains it before it is used. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/ipset/ip_set.h>
#include "wire.h"

#define NFGEN_LEN NLMSG_ALIGN(sizeof(struct nfgenmsg))

int wire_next(const uint8_t *buf, size_t len, size_t *off, struct wire_msg *m)
{
	struct nlmsghdr h;
	if (*off >= len)
		return 0;
	if (len - *off < NLMSG_HDRLEN)
		return -EBADMSG;
	memcpy(&h, buf + *off, sizeof h);
	if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - *off)
		return -EBADMSG;
	m->type = h.nlmsg_type;
	m->flags = h.nlmsg_flags;
	m->seq = h.nlmsg_seq;
	m->pid = h.nlmsg_pid;
	m->payload = buf + *off + NLMSG_HDRLEN;
	m->payload_len = h.nlmsg_len - NLMSG_HDRLEN;
	size_t step = NLMSG_ALIGN(h.nlmsg_len);
	*off = step > len - *off ? len : *off + step;
	return 1;
}

struct attr_view {
	uint16_t type; /* without the NESTED/BYTEORDER flags */
	const uint8_t *data;
	size_t len;
	const uint8_t *raw; /* the whole attribute, header included */
	size_t raw_len;
};

/* Walks attributes in [p, p+n); returns 1 per attribute, 0 at the end, -EBADMSG on a malformed one. */
static int attr_next(const uint8_t *p, size_t n, size_t *off, struct attr_view *a)
{
	struct nlattr h;
	if (*off >= n)
		return 0;
	if (n - *off < NLA_HDRLEN)
		return -EBADMSG;
	memcpy(&h, p + *off, sizeof h);
	if (h.nla_len < NLA_HDRLEN || h.nla_len > n - *off)
		return -EBADMSG;
	a->type = h.nla_type & NLA_TYPE_MASK;
	a->raw = p + *off;
	a->raw_len = h.nla_len;
	a->data = p + *off + NLA_HDRLEN;
	a->len = h.nla_len - NLA_HDRLEN;
	size_t step = NLA_ALIGN(h.nla_len);
	*off = step > n - *off ? n : *off + step;
	return 1;
}

static uint32_t get_be32(const struct attr_view *a)
{
	uint32_t v = 0;
	if (a->len >= 4)
		memcpy(&v, a->data, 4);
	return ntohl(v);
}

static uint32_t get_u32(const struct attr_view *a)
{
	uint32_t v = 0;
	if (a->len >= 4)
		memcpy(&v, a->data, 4);
	return v;
}

int wire_parse_ack(const struct wire_msg *m, struct wire_ack *ack)
{
	struct nlmsgerr e;
	if (m->type != NLMSG_ERROR || m->payload_len < sizeof e)
		return -EBADMSG;
	memcpy(&e, m->payload, sizeof e);
	ack->seq = e.msg.nlmsg_seq;
	ack->error = e.error;
	ack->lineno = 0;
	/* ipset's own error replies carry the whole request, with the failing line written into LINENO. */
	if (e.error && e.msg.nlmsg_len >= NLMSG_HDRLEN + NFGEN_LEN &&
	    e.msg.nlmsg_len <= m->payload_len - offsetof(struct nlmsgerr, msg) &&
	    (e.msg.nlmsg_type >> 8) == NFNL_SUBSYS_IPSET) {
		const uint8_t *attrs = m->payload + offsetof(struct nlmsgerr, msg) + NLMSG_HDRLEN + NFGEN_LEN;
		size_t n = e.msg.nlmsg_len - NLMSG_HDRLEN - NFGEN_LEN, off = 0;
		struct attr_view a;
		int r;
		while ((r = attr_next(attrs, n, &off, &a)) > 0)
			if (a.type == IPSET_ATTR_LINENO && a.len >= 4)
				ack->lineno = get_u32(&a);
		if (r < 0)
			return r;
	}
	return 0;
}

int wire_dump_step(struct wire_dump *d, const struct wire_msg *m)
{
	if (m->seq != d->seq || m->pid != d->portid)
		return WIRE_DUMP_SKIP;
	if (m->flags & NLM_F_DUMP_INTR)
		d->interrupted = 1;
	if (m->type == NLMSG_DONE) {
		/* The kernel puts the dump's own result here: 0, or the error that ended it early. */
		int32_t result = 0;
		if (m->payload_len >= sizeof result)
			memcpy(&result, m->payload, sizeof result);
		return result < 0 ? result : WIRE_DUMP_DONE;
	}
	if (m->type == NLMSG_ERROR) {
		struct wire_ack a;
		if (wire_parse_ack(m, &a) < 0)
			return -EBADMSG;
		if (a.error)
			return a.error < 0 ? a.error : -a.error;
		return WIRE_DUMP_SKIP; /* an ack of success: nothing to read */
	}
	return WIRE_DUMP_DATA;
}

static int parse_ip(const struct attr_view *nest, uint8_t *addr, uint8_t *family)
{
	size_t off = 0;
	struct attr_view a;
	int r;
	while ((r = attr_next(nest->data, nest->len, &off, &a)) > 0) {
		if (a.type == IPSET_ATTR_IPADDR_IPV4 && a.len == 4) {
			memcpy(addr, a.data, 4);
			*family = 4;
		} else if (a.type == IPSET_ATTR_IPADDR_IPV6 && a.len == 16) {
			memcpy(addr, a.data, 16);
			*family = 6;
		}
	}
	return r;
}

/* A member without a prefix is one address (hash:net always sends one); a prefix out of range is refused, never
 * replaced: a member read as a network the kernel does not hold would be compared, kept or deleted as that one. */
static int parse_member(const struct attr_view *data, sipa_member *mem)
{
	size_t off = 0;
	struct attr_view a;
	int r, prefix = -1;
	memset(mem, 0, sizeof *mem);
	while ((r = attr_next(data->data, data->len, &off, &a)) > 0) {
		if (a.type == IPSET_ATTR_IP && parse_ip(&a, mem->addr, &mem->family) < 0)
			return -EBADMSG;
		else if (a.type == IPSET_ATTR_CIDR)
			prefix = a.len >= 1 ? a.data[0] : 0;
		else if (a.type == IPSET_ATTR_TIMEOUT)
			mem->timeout = get_be32(&a);
	}
	if (r < 0)
		return r;
	if (mem->family == 0)
		return -EBADMSG;
	int max = mem->family == 4 ? 32 : 128;
	if (prefix == 0 || prefix > max)
		return -EBADMSG;
	mem->prefix = (uint8_t)(prefix < 0 ? max : prefix);
	return 0;
}

static void parse_header(const struct attr_view *data, sipa_set_info *info)
{
	size_t off = 0;
	struct attr_view a;
	while (attr_next(data->data, data->len, &off, &a) > 0) {
		switch (a.type) {
		case IPSET_ATTR_HASHSIZE: info->hashsize = get_be32(&a); break;
		case IPSET_ATTR_MAXELEM: info->maxelem = get_be32(&a); break;
		case IPSET_ATTR_REFERENCES: info->references = get_be32(&a); break;
		case IPSET_ATTR_ELEMENTS: info->elements = get_be32(&a); break;
		case IPSET_ATTR_MEMSIZE: info->memsize = get_be32(&a); break;
		case IPSET_ATTR_TIMEOUT: info->has_timeout = 1; break;
		default: break;
		}
	}
}

int wire_parse_list(const struct wire_msg *m, sipa_set_info *info, sipa_member *out, uint32_t cap,
		    uint32_t *count)
{
	if ((m->type >> 8) != NFNL_SUBSYS_IPSET || m->payload_len < NFGEN_LEN)
		return -EBADMSG;
	const uint8_t *p = m->payload + NFGEN_LEN;
	size_t n = m->payload_len - NFGEN_LEN, off = 0;
	struct attr_view a;
	int r;
	while ((r = attr_next(p, n, &off, &a)) > 0) {
		switch (a.type) {
		case IPSET_ATTR_TYPENAME:
			if (info) {
				size_t l = strnlen((const char *)a.data, a.len);
				if (l >= sizeof info->type)
					l = sizeof info->type - 1;
				memcpy(info->type, a.data, l);
				info->type[l] = 0;
			}
			break;
		case IPSET_ATTR_FAMILY:
			if (info && a.len >= 1)
				info->family = a.data[0] == NFPROTO_IPV6 ? 6 : 4;
			break;
		case IPSET_ATTR_REVISION:
			if (info && a.len >= 1)
				info->revision = a.data[0];
			break;
		case IPSET_ATTR_DATA:
			if (info)
				parse_header(&a, info);
			break;
		case IPSET_ATTR_ADT: {
			size_t eoff = 0;
			struct attr_view e;
			int er;
			while ((er = attr_next(a.data, a.len, &eoff, &e)) > 0) {
				sipa_member mem;
				if (e.type != IPSET_ATTR_DATA)
					continue;
				if (parse_member(&e, &mem) < 0)
					return -EBADMSG;
				if (out && *count < cap)
					out[*count] = mem;
				(*count)++;
			}
			if (er < 0)
				return er;
			break;
		}
		default:
			break;
		}
	}
	return r;
}

/* The original source address and layer-4 protocol of a CTA_TUPLE_ORIG nest; -ENOENT without an address. */
static int ct_origin_of(const struct attr_view *tuple, int family, uint8_t *src, int *l4proto)
{
	size_t off = 0;
	struct attr_view a;
	int found = -ENOENT;
	*l4proto = -1;
	while (attr_next(tuple->data, tuple->len, &off, &a) > 0) {
		size_t ioff = 0;
		struct attr_view in;
		if (a.type == CTA_TUPLE_IP) {
			while (attr_next(a.data, a.len, &ioff, &in) > 0) {
				if (family == 4 && in.type == CTA_IP_V4_SRC && in.len == 4) {
					memcpy(src, in.data, 4);
					found = 0;
				} else if (family == 6 && in.type == CTA_IP_V6_SRC && in.len == 16) {
					memcpy(src, in.data, 16);
					found = 0;
				}
			}
		} else if (a.type == CTA_TUPLE_PROTO) {
			while (attr_next(a.data, a.len, &ioff, &in) > 0)
				if (in.type == CTA_PROTO_NUM && in.len == 1)
					*l4proto = in.data[0];
		}
	}
	return found;
}

int wire_parse_ct(const struct wire_msg *m, int family, struct wire_ct_flow *f)
{
	if ((m->type >> 8) != NFNL_SUBSYS_CTNETLINK || m->payload_len < NFGEN_LEN)
		return -EBADMSG;
	const uint8_t *p = m->payload + NFGEN_LEN;
	size_t n = m->payload_len - NFGEN_LEN, off = 0;
	struct attr_view a;
	int r, found = 0;
	memset(f, 0, sizeof *f);
	f->l4proto = -1;
	while ((r = attr_next(p, n, &off, &a)) > 0) {
		if (a.type == CTA_TUPLE_ORIG) {
			found = ct_origin_of(&a, family, f->src, &f->l4proto) == 0;
			f->tuple = a.raw;
			f->tuple_len = a.raw_len;
		} else if (a.type == CTA_ID) {
			f->id = a.raw;
			f->id_len = a.raw_len;
		} else if (a.type == CTA_ZONE) {
			f->zone = a.raw;
			f->zone_len = a.raw_len;
		}
	}
	if (r < 0)
		return r;
	return found && f->tuple ? 1 : 0;
}
