/* Message encoding and reply parsing, free of I/O so that they can be checked byte for byte on every arch
 * (test/golden.c) and fuzzed (fuzz/fuzz_reply.c). */
#ifndef SIPA_WIRE_H
#define SIPA_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "../include/sipa.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* ADT nest lengths are u16: an ADT message carries at most this many payload bytes. */
#define WIRE_ADT_MAX_BYTES 65000u

struct nlbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Encoders append one complete netlink message to b; they return 0 or -ENOBUFS (b unchanged). */
HIDDEN int wire_ipset_create(struct nlbuf *b, uint32_t seq, const char *name, int family, uint32_t hashsize,
			     uint32_t maxelem, uint32_t flags);
/* cmd: IPSET_CMD_DESTROY, _FLUSH (name2 NULL) or _SWAP (name2 set). */
HIDDEN int wire_ipset_named(struct nlbuf *b, uint32_t seq, int cmd, const char *name, const char *name2);
HIDDEN int wire_ipset_list(struct nlbuf *b, uint32_t seq, const char *name, int header_only);
HIDDEN int wire_ipset_test(struct nlbuf *b, uint32_t seq, const char *name, const sipa_entry *e);
/* Encodes entries[0..n) that share e->op into one ADT message, as many as fit; returns how many it took
 * (0 when nothing fits). Element k carries line number first_line + k; first_line 0 sends no line numbers. */
HIDDEN uint32_t wire_ipset_adt(struct nlbuf *b, uint32_t seq, const char *name, const sipa_entry *entries,
			       uint32_t n, uint32_t first_line);
/* A conntrack dump of one family asking the kernel (5.8+) to keep only flows whose original source is addr;
 * addr NULL dumps the whole family (the kernel filters by exact address only, never by prefix). */
HIDDEN int wire_ct_dump_source(struct nlbuf *b, uint32_t seq, int family, const uint8_t *addr);
/* A conntrack delete of one flow from the raw CTA_TUPLE_ORIG, CTA_ID and CTA_ZONE attributes of a dump. */
HIDDEN int wire_ct_delete(struct nlbuf *b, uint32_t seq, int family, const uint8_t *tuple, size_t tuple_len,
			  const uint8_t *id, size_t id_len, const uint8_t *zone, size_t zone_len);

/* Reply parsing. wire_next walks the netlink messages of one datagram. */
struct wire_msg {
	uint16_t type;
	uint16_t flags;
	uint32_t seq;
	uint32_t pid; /* the port id the message is addressed to (the kernel's replies: the asking socket's) */
	const uint8_t *payload; /* after the nlmsghdr */
	size_t payload_len;
};
HIDDEN int wire_next(const uint8_t *buf, size_t len, size_t *off, struct wire_msg *m);

/* A dump being read: the seq of its request and the port id of the socket that sent it pick its reply. */
struct wire_dump {
	uint32_t seq;
	uint32_t portid;
	int interrupted; /* a message came flagged NLM_F_DUMP_INTR: the table changed while the kernel read it */
};
enum wire_dump_step { WIRE_DUMP_SKIP, WIRE_DUMP_DATA, WIRE_DUMP_DONE };
/* What one message is to the dump: SKIP (it answers another request, or is addressed to another socket), DATA
 * (a part of the reply), DONE (the end; d->interrupted says whether it can be trusted whole), or a negative
 * code: the kernel refused the dump, ended it with an error (carried in NLMSG_DONE), or sent a malformed ack. */
HIDDEN int wire_dump_step(struct wire_dump *d, const struct wire_msg *m);

struct wire_ack {
	uint32_t seq;    /* the seq of the message it answers */
	int error;       /* 0 or -code */
	uint32_t lineno; /* ipset: line of the failing element, 0 if none */
};
HIDDEN int wire_parse_ack(const struct wire_msg *m, struct wire_ack *a);

/* One ipset LIST reply message: header fields (when present) into info, members appended to out. */
HIDDEN int wire_parse_list(const struct wire_msg *m, sipa_set_info *info, sipa_member *out, uint32_t cap,
			   uint32_t *count);

/* One conntrack dump message: 1 if it has an original source of the family, with that source, its layer-4
 * protocol (-1 when absent) and the raw attributes to delete it; 0 if it has none. */
struct wire_ct_flow {
	const uint8_t *tuple;
	size_t tuple_len;
	const uint8_t *id;
	size_t id_len;
	const uint8_t *zone;
	size_t zone_len;
	uint8_t src[16];
	int l4proto;
};
HIDDEN int wire_parse_ct(const struct wire_msg *m, int family, struct wire_ct_flow *f);

/* Clears the host bits of each network and sorts them for wire_nets_contain. */
HIDDEN void wire_nets_prepare(sipa_net *nets, uint32_t n);
/* 1 if addr (of the family) lies in one of the prepared networks. */
HIDDEN int wire_nets_contain(const sipa_net *nets, uint32_t n, int family, const uint8_t *addr);

HIDDEN const char *wire_strerror(int code);
/* The table wire_strerror reads: every code the callers may name (positive errno values, ipset codes >= 4096). */
struct wire_code {
	int code;
	const char *name; /* as the C headers spell it: ENOENT, IPSET_ERR_EXIST */
	const char *text;
};
HIDDEN const struct wire_code *wire_codes(size_t *n);

/* The header of an iptables table (struct ipt_getinfo / ip6t_getinfo without the name). */
#define WIRE_TABLE_HOOKS 5
struct wire_table_head {
	uint32_t valid_hooks;
	uint32_t hook_entry[WIRE_TABLE_HOOKS];
	uint32_t underflow[WIRE_TABLE_HOOKS];
	uint32_t num_entries;
};
/* A 64-bit digest of a table's entries (family 4: ipt_entry, 6: ip6t_entry), counters left out; -EBADMSG when
 * the entries do not walk to exactly num_entries rules in len bytes. */
HIDDEN int wire_table_digest(int family, const struct wire_table_head *head, const uint8_t *entries, size_t len,
			     uint64_t *out);

/* Compares a set's members with the entries wanted in it (their op is ignored; an entry wanted more than once
 * is wanted until the latest of its timeouts, and reported, if at all, at that one). state[i] gets SIPA_DIFF_OK,
 * _MISSING (not in the set, and its timeout above slack: an entry about to end may already be gone) or _RETIMED
 * (in the set with a timeout more than slack away from its own, or none); a wanted timeout of 0 is never
 * reported, and SIPA_TIMEOUT_PERMANENT is wanted in the set with none (listed as 0). extra[] gets the indices into have[] of the members nobody wants (room for nhave). */
HIDDEN int wire_set_diff(const sipa_member *have, uint32_t nhave, const sipa_entry *want, uint32_t nwant,
			 uint32_t slack, uint8_t *state, uint32_t *extra, uint32_t *nextra);

#endif
