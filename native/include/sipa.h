/*
 * libsipa — the kernel side of Secure IP Access: ipset and conntrack over netlink.
 *
 * Every function returns 0 (or a count) on success and -errno or -(ipset error code, >= 4096) on failure, and
 * leaves a sentence in the handle's error text (sipa_last_error). Nothing is ever printed.
 * Addresses are network-order bytes: 4 for IPv4, 16 for IPv6. Families are 4 or 6.
 */
#ifndef SIPA_H
#define SIPA_H

#include <stddef.h>
#include <stdint.h>

#define SIPA_API __attribute__((visibility("default")))
#define SIPA_ABI_VERSION 5u
#define SIPA_SETNAME_MAX 31 /* IPSET_MAXNAMELEN - 1 */
#define SIPA_KERNEL_MAX_TIMEOUT 2147483u
/* An entry that never ends by itself (a registration until revoked): added to a set with timeouts with a timeout
 * of 0, which the kernel keeps until it is deleted (ipset(8): "zero timeout value means the entry is added
 * permanent to the set"), and listed with timeout 0; wanted as such by sipa_set_diff. */
#define SIPA_TIMEOUT_PERMANENT 0xffffffffu

typedef struct sipa_handle sipa_handle;

/* The structs below cross the FFI as bytes: module/kernel/native.ts reads and writes them at these offsets.
 * They are pinned here, so that a change to one fails the build, and laid out without implicit padding, so that
 * they are the same on every arch. */
#define SIPA_AT(type, field, offset) _Static_assert(offsetof(type, field) == (offset), #type "." #field " moved")
#define SIPA_SIZE(type, size) _Static_assert(sizeof(type) == (size), #type " changed size")

enum sipa_op { SIPA_OP_ADD = 1, SIPA_OP_DEL = 2 };
enum sipa_set_flags { SIPA_SET_TIMEOUT = 1 };

/* One element of a batch. */
typedef struct sipa_entry {
	uint8_t op;       /* enum sipa_op */
	uint8_t family;   /* 4 or 6 */
	uint8_t prefix;   /* 1..32 or 1..128 */
	uint8_t reserved;
	uint32_t timeout; /* seconds, host order: 1..SIPA_KERNEL_MAX_TIMEOUT, SIPA_TIMEOUT_PERMANENT, or 0 = none (set default) */
	uint8_t addr[16];
} sipa_entry;
SIPA_SIZE(sipa_entry, 24);
SIPA_AT(sipa_entry, op, 0);
SIPA_AT(sipa_entry, family, 1);
SIPA_AT(sipa_entry, prefix, 2);
SIPA_AT(sipa_entry, timeout, 4);
SIPA_AT(sipa_entry, addr, 8);

/* One member of a listed set. */
typedef struct sipa_member {
	uint8_t family;
	uint8_t prefix;
	uint8_t reserved[2];
	uint32_t timeout; /* remaining seconds as the kernel reports them; 0 for a set without timeouts */
	uint8_t addr[16];
} sipa_member;
SIPA_SIZE(sipa_member, 24);
SIPA_AT(sipa_member, family, 0);
SIPA_AT(sipa_member, prefix, 1);
SIPA_AT(sipa_member, timeout, 4);
SIPA_AT(sipa_member, addr, 8);

/* A network whose flows are cut. */
typedef struct sipa_net {
	uint8_t family; /* 4 or 6 */
	uint8_t prefix; /* 1..32 or 1..128 */
	uint8_t reserved[2];
	uint8_t addr[16];
} sipa_net;
SIPA_SIZE(sipa_net, 20);
SIPA_AT(sipa_net, family, 0);
SIPA_AT(sipa_net, prefix, 1);
SIPA_AT(sipa_net, addr, 4);

/* A set's header. */
typedef struct sipa_set_info {
	char type[32];
	uint8_t family; /* 4 or 6 */
	uint8_t revision;
	uint8_t has_timeout;
	uint8_t reserved;
	uint32_t hashsize;
	uint32_t maxelem;
	uint32_t references;
	uint32_t elements; /* 0 when the kernel does not report it (before Linux 4.10: qpkg/platform.md) */
	uint32_t memsize;
} sipa_set_info;
SIPA_SIZE(sipa_set_info, 56);
SIPA_AT(sipa_set_info, type, 0);
SIPA_AT(sipa_set_info, family, 32);
SIPA_AT(sipa_set_info, revision, 33);
SIPA_AT(sipa_set_info, has_timeout, 34);
SIPA_AT(sipa_set_info, hashsize, 36);
SIPA_AT(sipa_set_info, maxelem, 40);
SIPA_AT(sipa_set_info, references, 44);
SIPA_AT(sipa_set_info, elements, 48);
SIPA_AT(sipa_set_info, memsize, 52);

SIPA_API uint32_t sipa_abi_version(void);

/* Opens a NETLINK_NETFILTER socket; inside the network namespace at netns_path when it is not NULL/empty
 * (e.g. /run/netns/NAME). The calling thread returns to its own namespace before this returns. */
SIPA_API int sipa_open(const char *netns_path, sipa_handle **out, char *err, size_t errlen);
SIPA_API void sipa_close(sipa_handle *h);
SIPA_API const char *sipa_last_error(const sipa_handle *h);
/* A sentence for a code returned by this library (errno or ipset code), for per-entry batch results. */
SIPA_API const char *sipa_strerror(int code);

SIPA_API int sipa_set_create(sipa_handle *h, const char *name, int family, uint32_t hashsize, uint32_t maxelem,
			     uint32_t flags);
SIPA_API int sipa_set_destroy(sipa_handle *h, const char *name);
SIPA_API int sipa_set_flush(sipa_handle *h, const char *name);
SIPA_API int sipa_set_swap(sipa_handle *h, const char *a, const char *b);
SIPA_API int sipa_set_info_get(sipa_handle *h, const char *name, sipa_set_info *out);
/* 1 if the address/prefix is in the set, 0 if not. */
SIPA_API int sipa_set_test(sipa_handle *h, const char *name, int family, const uint8_t *addr, uint8_t prefix);
/* Fills up to cap members; *count gets the total. Returns -ENOSPC (with *count = total) when cap is too small. */
SIPA_API int sipa_set_list(sipa_handle *h, const char *name, sipa_member *out, uint32_t cap, uint32_t *count);

/* Applies adds and deletes in order, many per message and many messages per sendmsg. results[i] gets 0 or the
 * entry's own error code. An add of a present entry replaces its timeout; a delete of an absent one is not an
 * error. Returns the number of entries that failed, or a negative code when the batch as a whole failed.
 * After a failure the rest of that message is retried after the messages that followed it, so a batch should
 * name each address at most once. */
SIPA_API int sipa_batch_apply(sipa_handle *h, const char *name, const sipa_entry *entries, uint32_t n,
			      int32_t *results);

enum sipa_diff_state { SIPA_DIFF_OK = 0, SIPA_DIFF_MISSING = 1, SIPA_DIFF_RETIMED = 2 };

/* Lists the set and compares its members with wanted[0..n) (family, prefix, address, timeout; op ignored; an
 * entry wanted more than once is wanted until the latest of its timeouts and reported at that one).
 * state[i] gets enum sipa_diff_state: MISSING when absent and its timeout is above slack seconds (one about to
 * end may already be gone), RETIMED when present with a timeout more than slack seconds from its own or none at
 * all; a wanted timeout of 0 (ending now) is never reported; SIPA_TIMEOUT_PERMANENT is wanted present without a
 * timeout (listed as 0). The members nobody wants are written to extra (up
 * to extra_cap; *extra_count gets how many there are, -ENOSPC when they did not fit); *members gets the set's
 * size. One listing, one hash table: no per-member work for the caller. */
SIPA_API int sipa_set_diff(sipa_handle *h, const char *name, const sipa_entry *wanted, uint32_t n, uint32_t slack,
			   uint8_t *state, sipa_member *extra, uint32_t extra_cap, uint32_t *extra_count,
			   uint32_t *members);

/* Deletes every conntrack flow of the family whose original source is in one of nets[0..n) (a /32 or /128 is one
 * address; networks of the other family are ignored) and, unless l4proto is 0, whose protocol is l4proto (e.g. 6
 * for TCP), in one dump of the table. *cut gets how many were deleted. */
SIPA_API int sipa_ct_delete_nets(sipa_handle *h, int family, const sipa_net *nets, uint32_t n, uint8_t l4proto,
				 uint32_t *cut);

/* A digest (8 bytes) of the legacy iptables filter table of the family (4 or 6) in the handle's namespace, with
 * the rule counters left out: it changes when a rule, a chain or a jump is added, removed or changed, and not
 * when packets are counted. *rules gets the number of rules (chain heads and ends included). Reads the table
 * through getsockopt (IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES) on a raw socket opened with the handle. */
SIPA_API int sipa_fw_digest(sipa_handle *h, int family, uint8_t *digest, uint32_t *rules);

/* Moves the calling thread into a network namespace and back, so that sockets opened in between (e.g. an
 * rtnetlink socket made by another library) live there. */
SIPA_API int sipa_netns_enter(const char *netns_path, char *err, size_t errlen);
SIPA_API int sipa_netns_leave(char *err, size_t errlen);

#endif
