/* Golden vectors: every message the helper sends, byte for byte, and replies parsed back. Built and run for
 * every arch (ARM under qemu-user), so byte order and struct layout cannot differ between them.
 * `golden --print` prints the current encodings in the vectors' format (for a deliberate protocol change). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include "../src/wire.h"
#include "craft.h"
#include "golden_vectors.h"

#if defined(__x86_64__)
#define ARCH_NAME "x86_64"
#elif defined(__aarch64__)
#define ARCH_NAME "aarch64"
#elif defined(__arm__)
#define ARCH_NAME "armhf"
#else
#define ARCH_NAME "unknown arch"
#endif

static uint8_t mem[1 << 17];
static int failures, checks;

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = 0;
}

static const char *expected(const char *name)
{
	for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++)
		if (!strcmp(golden[i].name, name))
			return golden[i].hex;
	return NULL;
}

static void check(const char *name, struct nlbuf *b, int print)
{
	static char got[sizeof mem * 2 + 1];
	hex(b->data, b->len, got);
	checks++;
	if (print) {
		printf("\t{ \"%s\", \"%s\" },\n", name, got);
		return;
	}
	const char *want = expected(name);
	if (!want || strcmp(want, got)) {
		failures++;
		fprintf(stderr, "FAIL %s\n  want %s\n  got  %s\n", name, want ? want : "(no vector)", got);
	}
}

static sipa_entry v4(uint8_t op, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t prefix, uint32_t timeout)
{
	sipa_entry e = { .op = op, .family = 4, .prefix = prefix, .timeout = timeout };
	e.addr[0] = a, e.addr[1] = b, e.addr[2] = c, e.addr[3] = d;
	return e;
}

static sipa_entry v6_doc(uint8_t op, uint8_t last, uint8_t prefix, uint32_t timeout)
{
	sipa_entry e = { .op = op, .family = 6, .prefix = prefix, .timeout = timeout };
	e.addr[0] = 0x20, e.addr[1] = 0x01, e.addr[2] = 0x0d, e.addr[3] = 0xb8, e.addr[15] = last;
	return e;
}

#define NEW(b) struct nlbuf b = { .data = mem, .len = 0, .cap = sizeof mem }

static void expect(int cond, const char *what)
{
	checks++;
	if (!cond) {
		failures++;
		fprintf(stderr, "FAIL %s\n", what);
	}
}

/* A conntrack dump message as the kernel sends one: original tuple (source, protocol) and an id. */
static struct wire_msg ct_flow_msg(struct nlbuf *b, int family, const uint8_t *src, uint8_t l4proto)
{
	b->len = 0;
	craft_ct_flow(b, 5, 0, 0, family, src, l4proto);
	struct wire_msg m;
	size_t off = 0;
	wire_next(b->data, b->len, &off, &m);
	return m;
}

static sipa_net net_of(int family, const uint8_t *addr, uint8_t prefix)
{
	sipa_net n = { .family = (uint8_t)family, .prefix = prefix };
	memcpy(n.addr, addr, family == 6 ? 16 : 4);
	return n;
}

/* 1 if the flow message's source lies in the one network given (prepared as a cut prepares its list). */
static int flow_in(const struct wire_msg *m, int family, const uint8_t *addr, uint8_t prefix)
{
	struct wire_ct_flow f;
	sipa_net n = net_of(family, addr, prefix);
	wire_nets_prepare(&n, 1);
	return wire_parse_ct(m, family, &f) == 1 && wire_nets_contain(&n, 1, family, f.src);
}

/* Which flows a cut takes: sources inside a network (prefix bits compared), of any of many networks. */
static void ct_match_checks(void)
{
	static uint8_t space[512];
	struct nlbuf b = { .data = space, .cap = sizeof space };
	struct wire_ct_flow f;
	const uint8_t net24[4] = { 203, 0, 113, 0 }, host[4] = { 203, 0, 113, 10 }, other[4] = { 203, 0, 114, 10 };
	const uint8_t odd[4] = { 203, 0, 113, 130 }, dirty[4] = { 203, 0, 113, 77 };
	struct wire_msg m = ct_flow_msg(&b, 4, host, 6);
	expect(wire_parse_ct(&m, 4, &f) == 1 && f.tuple && f.id && f.l4proto == 6 && !memcmp(f.src, host, 4),
	       "a v4 TCP flow parses: source, protocol, tuple and id");
	expect(wire_parse_ct(&m, 6, &f) == 0, "a v4 flow has no v6 source");
	expect(flow_in(&m, 4, host, 32), "v4 flow of the address is in its /32");
	expect(flow_in(&m, 4, net24, 24), "v4 flow inside 203.0.113.0/24");
	expect(flow_in(&m, 4, dirty, 24), "host bits of a network are ignored (203.0.113.77/24)");
	expect(!flow_in(&m, 4, net24, 32), "v4 flow of another address is not in that /32");
	expect(!flow_in(&m, 4, odd, 25), "203.0.113.10 is not in 203.0.113.128/25");
	expect(flow_in(&m, 4, net24, 25), "203.0.113.10 is in 203.0.113.0/25");
	m = ct_flow_msg(&b, 4, other, 17);
	expect(wire_parse_ct(&m, 4, &f) == 1 && f.l4proto == 17, "a UDP flow says so");
	expect(!flow_in(&m, 4, net24, 24), "203.0.114.10 is not in 203.0.113.0/24");
	expect(flow_in(&m, 4, net24, 22), "203.0.114.10 is in 203.0.112.0/22");
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 0x10 }, v6net[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2 };
	m = ct_flow_msg(&b, 6, v6, 6);
	expect(flow_in(&m, 6, v6, 128), "v6 flow of the address is in its /128");
	expect(flow_in(&m, 6, v6net, 64), "v6 flow inside 2001:db8:2::/64");
	expect(!flow_in(&m, 6, v6net, 128), "v6 flow of another address is not in that /128");
	expect(wire_parse_ct(&m, 4, &f) == 0, "a v6 flow has no v4 source");

	/* Many networks of mixed lengths and both families, in any order: each member found, neighbours not. */
	static sipa_net many[1000];
	uint32_t n = 0;
	for (unsigned i = 0; i < 500; i++) {
		uint8_t a[4] = { 10, (uint8_t)(i >> 8), (uint8_t)i, 1 };
		many[n++] = net_of(4, a, 32);
	}
	for (unsigned i = 0; i < 400; i++) {
		uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, (uint8_t)(i >> 8), (uint8_t)i };
		many[n++] = net_of(6, a, 64);
	}
	many[n++] = net_of(4, net24, 24);
	many[n++] = net_of(6, v6net, 48);
	wire_nets_prepare(many, n);
	const uint8_t in32[4] = { 10, 1, 44, 1 }, out32[4] = { 10, 1, 44, 2 }, past[4] = { 10, 2, 0, 1 };
	uint8_t in64[16] = { 0x20, 0x01, 0x0d, 0xb8, 1, 0x2c, [15] = 9 }, out64[16] = { 0x20, 0x01, 0x0d, 0xb8, 1, 0x2c, 0, 1 };
	uint8_t in48[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0xff, 0xff, [15] = 1 };
	out64[4] = 3; /* 2001:db8:32c:1::/64 is past the 400 */
	expect(wire_nets_contain(many, n, 4, in32), "10.1.44.1 is one of 500 /32s");
	expect(!wire_nets_contain(many, n, 4, out32), "10.1.44.2 is none of them");
	expect(!wire_nets_contain(many, n, 4, past), "10.2.0.1 is past them");
	expect(wire_nets_contain(many, n, 4, odd), "203.0.113.130 is in the /24 among the /32s");
	expect(wire_nets_contain(many, n, 6, in64), "2001:db8:12c::9 is in one of 400 /64s");
	expect(!wire_nets_contain(many, n, 6, out64), "2001:db8:32c:1::/64 is none of them");
	expect(wire_nets_contain(many, n, 6, in48), "2001:db8:2:ffff::1 is in the /48");
	expect(!wire_nets_contain(many, n, 6, (const uint8_t[16]){ 10, 1, 44, 1 }), "a v4 address never matches as v6");
}

/* Replies are built with the encoders' own framing, then parsed. */
static void parse_checks(void)
{
	/* An ipset error reply: nlmsgerr + the request with LINENO = 3. */
	NEW(req);
	sipa_entry es[3] = { v4(SIPA_OP_ADD, 192, 0, 2, 1, 32, 60), v4(SIPA_OP_ADD, 192, 0, 2, 2, 32, 60),
			     v4(SIPA_OP_ADD, 192, 0, 2, 3, 0, 60) };
	wire_ipset_adt(&req, 77, "sipa4_allow", es, 3, 1);
	/* find the top-level LINENO attribute and patch it as the kernel does */
	uint8_t *attrs = req.data + NLMSG_HDRLEN + 4;
	size_t off = 0;
	while (off < req.len - NLMSG_HDRLEN - 4) {
		struct nlattr *a = (struct nlattr *)(attrs + off);
		if ((a->nla_type & NLA_TYPE_MASK) == IPSET_ATTR_LINENO) {
			uint32_t three = 3;
			memcpy((uint8_t *)a + NLA_HDRLEN, &three, 4);
			break;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	static uint8_t reply[1 << 17];
	struct nlmsghdr *h = (struct nlmsghdr *)reply;
	struct nlmsgerr *e = NLMSG_DATA(h);
	h->nlmsg_type = NLMSG_ERROR;
	h->nlmsg_len = NLMSG_HDRLEN + sizeof(int) + req.len;
	h->nlmsg_seq = 77;
	e->error = -IPSET_ERR_INVALID_CIDR;
	memcpy(&e->msg, req.data, req.len);
	size_t roff = 0;
	struct wire_msg m;
	struct wire_ack ack;
	expect(wire_next(reply, h->nlmsg_len, &roff, &m) == 1, "ipset error reply is one message");
	expect(wire_parse_ack(&m, &ack) == 0, "ipset error reply parses");
	expect(ack.seq == 77 && ack.error == -IPSET_ERR_INVALID_CIDR && ack.lineno == 3,
	       "ipset error reply names seq 77, invalid cidr, line 3");

	/* Members' prefixes: one left out is the whole address; one out of range fails the listing. */
	static uint8_t space[512];
	static const uint8_t addrs[2][4] = { { 203, 0, 113, 1 }, { 198, 51, 100, 0 } };
	struct nlbuf lb = { .data = space, .cap = sizeof space };
	sipa_member got[2];
	uint32_t count;
	const struct { uint8_t prefix; int result; uint8_t read; const char *what; } cases[] = {
		{ 24, 0, 24, "a member's prefix is read as sent" },
		{ 0, 0, 32, "a member without a prefix is one address" },
		{ 0xff, -EBADMSG, 0, "a prefix of 0 fails the listing" },
		{ 33, -EBADMSG, 0, "a prefix above 32 in an IPv4 member fails the listing" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const uint8_t prefixes[2] = { 32, cases[i].prefix };
		lb.len = 0;
		craft_ipset_members(&lb, 9, 0, NLM_F_MULTI, addrs, prefixes, 2);
		roff = 0;
		count = 0;
		wire_next(lb.data, lb.len, &roff, &m);
		int r = wire_parse_list(&m, NULL, got, 2, &count);
		expect(r == cases[i].result && (r < 0 || (count == 2 && got[1].prefix == cases[i].read)), cases[i].what);
	}

	/* A truncated message is refused, never read past. */
	roff = 0;
	expect(wire_next(reply, NLMSG_HDRLEN - 1, &roff, &m) < 0, "short datagram refused");
	h->nlmsg_len = 1 << 20;
	roff = 0;
	expect(wire_next(reply, 64, &roff, &m) < 0, "length beyond the datagram refused");
}

/* A made-up table of three rules (each an entry and 8 bytes of "target"), in the family's entry layout. */
static size_t fake_table(int family, uint8_t *blob, struct wire_table_head *head)
{
	size_t fixed = family == 4 ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
	size_t next_at = family == 4 ? offsetof(struct ipt_entry, next_offset) : offsetof(struct ip6t_entry, next_offset);
	uint16_t next = (uint16_t)(fixed + 8);
	for (size_t i = 0; i < 3 * next; i++)
		blob[i] = (uint8_t)(i * 7 + 1);
	for (int r = 0; r < 3; r++)
		memcpy(blob + r * next + next_at, &next, sizeof next);
	memset(head, 0, sizeof *head);
	head->valid_hooks = 0x0e;
	head->hook_entry[1] = 0, head->hook_entry[2] = next, head->hook_entry[3] = 2u * next;
	head->underflow[1] = 0, head->underflow[2] = next, head->underflow[3] = 2u * next;
	head->num_entries = 3;
	return 3u * next;
}

/* The filter table digest: the same on every arch, blind to counters and comefrom, sensitive to any rule byte. */
static void table_checks(int print)
{
	static uint8_t blob[4096];
	struct wire_table_head head;
	for (int family = 4; family <= 6; family += 2) {
		size_t len = fake_table(family, blob, &head);
		size_t counters = family == 4 ? offsetof(struct ipt_entry, counters) : offsetof(struct ip6t_entry, counters);
		size_t comefrom = family == 4 ? offsetof(struct ipt_entry, comefrom) : offsetof(struct ip6t_entry, comefrom);
		size_t next = len / 3;
		uint64_t d0 = 0, d = 0;
		expect(wire_table_digest(family, &head, blob, len, &d0) == 0, "a well-formed table digests");
		NEW(b);
		for (int i = 0; i < 8; i++)
			b.data[b.len++] = (uint8_t)(d0 >> (8 * i));
		check(family == 4 ? "table-digest4" : "table-digest6", &b, print);
		blob[next + counters + 3] ^= 0xff;  /* packets counted on the second rule */
		blob[2 * next + counters + 12] ^= 0xff;
		blob[comefrom] ^= 0x01;
		expect(wire_table_digest(family, &head, blob, len, &d) == 0 && d == d0, "counters and comefrom do not count");
		blob[next + len / 3 - 1] ^= 0x01;     /* the second rule's target */
		expect(wire_table_digest(family, &head, blob, len, &d) == 0 && d != d0, "a changed rule changes the digest");
		fake_table(family, blob, &head);
		head.hook_entry[2] = 0;
		expect(wire_table_digest(family, &head, blob, len, &d) == 0 && d != d0, "a moved hook changes the digest");
		fake_table(family, blob, &head);
		expect(wire_table_digest(family, &head, blob, len - 1, &d) == -EBADMSG, "a truncated table is refused");
		head.num_entries = 2;
		expect(wire_table_digest(family, &head, blob, len, &d) == -EBADMSG, "a rule count that does not match is refused");
		fake_table(family, blob, &head);
		uint16_t bad = 4;
		memcpy(blob + next + (family == 4 ? offsetof(struct ipt_entry, next_offset) : offsetof(struct ip6t_entry, next_offset)), &bad, 2);
		expect(wire_table_digest(family, &head, blob, len, &d) == -EBADMSG, "a rule shorter than its header is refused");
	}
}

static sipa_member member4(uint8_t d, uint8_t prefix, uint32_t timeout)
{
	sipa_member m = { .family = 4, .prefix = prefix, .timeout = timeout };
	m.addr[0] = 203, m.addr[1] = 0, m.addr[2] = 113, m.addr[3] = d;
	return m;
}

/* The full check's compare: who is extra, missing or wrongly timed, with what leeway. */
static void diff_checks(void)
{
	sipa_member have[5] = { member4(1, 32, 100), member4(2, 32, 100), member4(9, 32, 50), member4(0, 24, 0),
				member4(4, 32, 0) };
	have[4].family = 6; /* 203.0.113.4 as an IPv6 prefix: not the IPv4 address below */
	sipa_entry want[8] = {
		v4(SIPA_OP_ADD, 203, 0, 113, 1, 32, 101),  /* present, 1 s off: fine */
		v4(SIPA_OP_ADD, 203, 0, 113, 2, 32, 90),   /* present, 10 s off, but wanted again below */
		v4(SIPA_OP_ADD, 203, 0, 113, 3, 32, 600),  /* absent: missing */
		v4(SIPA_OP_ADD, 203, 0, 113, 5, 32, 2),    /* absent, about to end: fine */
		v4(SIPA_OP_ADD, 203, 0, 113, 6, 32, 0),    /* absent, ending now: fine */
		v4(SIPA_OP_ADD, 203, 0, 113, 77, 24, 0),   /* host bits set: the same network as 203.0.113.0/24 */
		v4(SIPA_OP_ADD, 203, 0, 113, 2, 32, 100),  /* ...until 100 s: the longest stands for both, and fits */
		v4(SIPA_OP_ADD, 203, 0, 113, 4, 32, 600),  /* only the IPv6 one is there: missing */
	};
	uint8_t state[8];
	uint32_t extra[5], nextra = 99;
	expect(wire_set_diff(have, 5, want, 8, 2, state, extra, &nextra) == 0, "diff runs");
	const uint8_t expect_state[8] = { SIPA_DIFF_OK, SIPA_DIFF_OK, SIPA_DIFF_MISSING, SIPA_DIFF_OK, SIPA_DIFF_OK,
					  SIPA_DIFF_OK, SIPA_DIFF_OK, SIPA_DIFF_MISSING };
	expect(!memcmp(state, expect_state, 8), "diff: ok, shared, missing, about to end, ending, masked, shared, other family");
	expect(nextra == 2 && extra[0] == 2 && extra[1] == 4, "diff: the unwanted members are 203.0.113.9 and the IPv6 one");
	want[6].timeout = 60; /* the longest is now the 90 s one: 10 s from the set's 100 */
	wire_set_diff(have, 5, want, 8, 2, state, extra, &nextra);
	expect(state[1] == SIPA_DIFF_RETIMED && state[6] == SIPA_DIFF_OK, "diff: a shared entry is reported once, at its longest");
	have[0].timeout = 0; /* made permanent */
	wire_set_diff(have, 5, want, 8, 2, state, extra, &nextra);
	expect(state[0] == SIPA_DIFF_RETIMED, "diff: a permanent entry is retimed");
	want[0].timeout = SIPA_TIMEOUT_PERMANENT; /* until revoked: the permanent member is its own */
	wire_set_diff(have, 5, want, 8, 2, state, extra, &nextra);
	expect(state[0] == SIPA_DIFF_OK, "diff: a permanent entry wanted permanent is fine");
	have[0].timeout = 100; /* someone gave it a timeout: it would end */
	wire_set_diff(have, 5, want, 8, 2, state, extra, &nextra);
	expect(state[0] == SIPA_DIFF_RETIMED, "diff: a permanent entry with a timeout is retimed");
	want[2].timeout = SIPA_TIMEOUT_PERMANENT;
	wire_set_diff(have, 5, want, 8, 2, state, extra, &nextra);
	expect(state[2] == SIPA_DIFF_MISSING, "diff: an absent permanent entry is missing");
	want[6].timeout = SIPA_TIMEOUT_PERMANENT; /* shared with a timed one: the permanent one stands for both */
	have[1].timeout = 0;
	wire_set_diff(have, 5, want, 8, 2, state, extra, &nextra);
	expect(state[1] == SIPA_DIFF_OK && state[6] == SIPA_DIFF_OK, "diff: a shared entry wanted permanent by one holder is permanent");
	expect(wire_set_diff(have, 0, want, 0, 2, state, extra, &nextra) == 0 && nextra == 0, "diff of nothing with nothing");
}

int main(int argc, char **argv)
{
	int print = argc > 1 && !strcmp(argv[1], "--print");
	const uint8_t v4addr[4] = { 203, 0, 113, 7 };
	uint8_t v6addr[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	v6addr[15] = 7;

	{ NEW(b); wire_ipset_create(&b, 1, "sipa4_allow", 4, 65536, 65536, SIPA_SET_TIMEOUT); check("create4", &b, print); }
	{ NEW(b); wire_ipset_create(&b, 2, "sipa6_lan", 6, 1024, 4096, 0); check("create6-lan", &b, print); }
	{ NEW(b); wire_ipset_named(&b, 3, IPSET_CMD_DESTROY, "sipa4_allow", NULL); check("destroy", &b, print); }
	{ NEW(b); wire_ipset_named(&b, 4, IPSET_CMD_FLUSH, "sipa4_allow", NULL); check("flush", &b, print); }
	{ NEW(b); wire_ipset_named(&b, 6, IPSET_CMD_SWAP, "sipa4_tmp", "sipa4_allow"); check("swap", &b, print); }
	{ NEW(b); wire_ipset_list(&b, 7, "sipa4_allow", 0); check("list", &b, print); }
	{ NEW(b); wire_ipset_list(&b, 8, "sipa4_allow", 1); check("list-header", &b, print); }
	{ NEW(b); sipa_entry e = v4(SIPA_OP_ADD, 203, 0, 113, 7, 32, 0); wire_ipset_test(&b, 9, "sipa4_allow", &e); check("test4", &b, print); }
	{
		NEW(b);
		sipa_entry es[3] = { v4(SIPA_OP_ADD, 203, 0, 113, 7, 32, 120), v4(SIPA_OP_ADD, 198, 51, 100, 0, 24, 2147483),
				     v4(SIPA_OP_DEL, 192, 0, 2, 1, 32, 0) };
		uint32_t k = wire_ipset_adt(&b, 10, "sipa4_allow", es, 3, 1);
		expect(k == 2, "an ADT message stops where the op changes");
		check("add4-batch", &b, print);
		NEW(d);
		k = wire_ipset_adt(&d, 11, "sipa4_allow", es + 2, 1, 3);
		expect(k == 1, "a delete of one entry is one element");
		check("del4", &d, print);
	}
	{
		NEW(b);
		sipa_entry es[2] = { v6_doc(SIPA_OP_ADD, 1, 128, 60), v6_doc(SIPA_OP_ADD, 0, 64, 3600) };
		wire_ipset_adt(&b, 12, "sipa6_allow", es, 2, 1);
		check("add6-batch", &b, print);
	}
	{
		/* Until revoked: the entry says timeout 0 (permanent) instead of leaving it to the set's default. */
		NEW(b);
		sipa_entry e = v4(SIPA_OP_ADD, 203, 0, 113, 8, 32, SIPA_TIMEOUT_PERMANENT);
		wire_ipset_adt(&b, 18, "sipa4_allow", &e, 1, 1);
		check("add4-permanent", &b, print);
	}
	{ NEW(b); wire_ct_dump_source(&b, 13, 4, v4addr); check("ct-dump4", &b, print); }
	{ NEW(b); wire_ct_dump_source(&b, 14, 6, v6addr); check("ct-dump6", &b, print); }
	{ NEW(b); wire_ct_dump_source(&b, 17, 4, NULL); check("ct-dump4-all", &b, print); }
	{
		/* A delete carries the dump's attributes back as they came. */
		const uint8_t tuple[] = { 0x0c, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x80, 0x04, 0x00, 0x01, 0x00 };
		const uint8_t id[] = { 0x08, 0x00, 0x0c, 0x00, 0x12, 0x34, 0x56, 0x78 };
		NEW(b);
		wire_ct_delete(&b, 15, 4, tuple, sizeof tuple, id, sizeof id, NULL, 0);
		check("ct-delete", &b, print);
	}
	{
		/* Capacity: a full ADT message of /32s stays under the u16 nest limit. */
		static sipa_entry many[4000];
		for (int i = 0; i < 4000; i++)
			many[i] = v4(SIPA_OP_ADD, 10, 0, (uint8_t)(i >> 8), (uint8_t)i, 32, 60);
		NEW(b);
		uint32_t k = wire_ipset_adt(&b, 16, "sipa4_allow", many, 4000, 1);
		expect(k > 1500 && k < 2048 && b.len < 65536 + 64, "one ADT message holds ~1600 IPv4 elements");
		if (!print)
			printf("ADT capacity: %u IPv4 elements in %zu bytes\n", k, b.len);
	}
	table_checks(print);
	if (!print) {
		diff_checks();
		parse_checks();
		ct_match_checks();
		printf("golden: %d checks, %d failed (%s)\n", checks, failures, ARCH_NAME);
	}
	return failures ? 1 : 0;
}
