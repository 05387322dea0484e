/* A digest of an iptables (legacy x_tables) table as IPT_SO_GET_ENTRIES returns it: what the reconciler watches
 * between full compares. Every byte of every rule counts except the packet and byte counters (they change with
 * traffic) and comefrom (the kernel's bookkeeping of which hooks reach a rule). */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include "wire.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

static uint64_t fnv_u32(uint64_t h, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	return fnv(h, b, 4);
}

int wire_table_digest(int family, const struct wire_table_head *head, const uint8_t *entries, size_t len,
		      uint64_t *out)
{
	size_t fixed, next_at, skip_from, skip_to;
	if (family == 4) {
		fixed = sizeof(struct ipt_entry);
		next_at = offsetof(struct ipt_entry, next_offset);
		skip_from = offsetof(struct ipt_entry, comefrom);
		skip_to = offsetof(struct ipt_entry, counters) + sizeof(struct xt_counters);
	} else if (family == 6) {
		fixed = sizeof(struct ip6t_entry);
		next_at = offsetof(struct ip6t_entry, next_offset);
		skip_from = offsetof(struct ip6t_entry, comefrom);
		skip_to = offsetof(struct ip6t_entry, counters) + sizeof(struct xt_counters);
	} else {
		return -EAFNOSUPPORT;
	}
	uint64_t h = FNV_OFFSET;
	h = fnv_u32(h, head->valid_hooks);
	for (int i = 0; i < WIRE_TABLE_HOOKS; i++)
		h = fnv_u32(fnv_u32(h, head->hook_entry[i]), head->underflow[i]);
	h = fnv_u32(fnv_u32(h, head->num_entries), (uint32_t)len);
	uint32_t count = 0;
	for (size_t off = 0; off < len; count++) {
		uint16_t next;
		if (len - off < fixed)
			return -EBADMSG;
		memcpy(&next, entries + off + next_at, sizeof next);
		if (next < fixed || next > len - off)
			return -EBADMSG;
		h = fnv(h, entries + off, skip_from);
		h = fnv(h, entries + off + skip_to, next - skip_to);
		off += next;
	}
	if (count != head->num_entries)
		return -EBADMSG;
	*out = h;
	return 0;
}
