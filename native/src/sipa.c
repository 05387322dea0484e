/* The helper's I/O: one NETLINK_NETFILTER socket per handle, requests out, acks and dumps back. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include "wire.h"

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* Messages per sendmsg: enough to amortise the syscall, few enough that their acks fit the receive buffer. */
#define MSGS_PER_SEND 16
#define TX_CAP (MSGS_PER_SEND * (WIRE_ADT_MAX_BYTES + 1024))
#define RX_CAP (256 * 1024)
#define SOCK_BUF (8 * 1024 * 1024)
/* How often a dump the kernel flagged as interrupted is read again before the call fails. */
#define DUMP_TRIES 3

struct sipa_handle {
	int fd;
	uint32_t portid; /* the socket's netlink port id: the kernel addresses its replies to it */
	/* Raw sockets in the handle's namespace, for reading the iptables filter tables (IPv4, IPv6); a negative
	 * value is the -errno that opening failed with. */
	int raw[2];
	uint32_t seq;
	uint8_t *tx;
	uint8_t *rx;
	char err[512];
};

static int fail(sipa_handle *h, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(h->err, sizeof h->err, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof h->err)
		snprintf(h->err + n, sizeof h->err - (size_t)n, ": %s", wire_strerror(code));
	return code < 0 ? code : -code;
}

static void set_text(char *err, size_t errlen, const char *what, int e)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", what, wire_strerror(e));
}

uint32_t sipa_abi_version(void) { return SIPA_ABI_VERSION; }
const char *sipa_last_error(const sipa_handle *h) { return h ? h->err : "no handle"; }
const char *sipa_strerror(int code) { return wire_strerror(code); }

static int valid_name(const char *s) { return s && *s && strlen(s) <= SIPA_SETNAME_MAX; }

/* ---- namespaces ---- */

static __thread int saved_ns = -1;

int sipa_netns_enter(const char *path, char *err, size_t errlen)
{
	if (saved_ns >= 0) {
		set_text(err, errlen, "already inside a namespace (call sipa_netns_leave first)", EBUSY);
		return -EBUSY;
	}
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		int e = errno;
		set_text(err, errlen, "cannot open this thread's network namespace", e);
		return -e;
	}
	int target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		int e = errno;
		close(self);
		if (err && errlen)
			snprintf(err, errlen, "cannot open network namespace %s: %s", path, wire_strerror(e));
		return -e;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		int e = errno;
		close(self);
		close(target);
		if (err && errlen)
			snprintf(err, errlen, "cannot enter network namespace %s: %s", path, wire_strerror(e));
		return -e;
	}
	close(target);
	saved_ns = self;
	return 0;
}

int sipa_netns_leave(char *err, size_t errlen)
{
	if (saved_ns < 0)
		return 0;
	int r = setns(saved_ns, CLONE_NEWNET) < 0 ? -errno : 0;
	if (r)
		set_text(err, errlen, "cannot return to the original network namespace", -r);
	close(saved_ns);
	saved_ns = -1;
	return r;
}

/* ---- handle ---- */

int sipa_open(const char *netns_path, sipa_handle **out, char *err, size_t errlen)
{
	int r, fd = -1, one = 1, size = SOCK_BUF;
	int raw[2] = { -EBADF, -EBADF };
	struct timeval tv = { .tv_sec = 5 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof sa;
	sipa_handle *h = NULL;

	*out = NULL;
	if (netns_path && *netns_path && (r = sipa_netns_enter(netns_path, err, errlen)) < 0)
		return r;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	r = fd < 0 ? -errno : 0;
	/* The filter tables are read with getsockopt on a raw socket of the namespace (what iptables itself does);
	 * without one (no CAP_NET_RAW, IPv6 disabled) only that reading fails, later, with this error. */
	raw[0] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (raw[0] < 0)
		raw[0] = -errno;
	raw[1] = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (raw[1] < 0)
		raw[1] = -errno;
	if (netns_path && *netns_path) {
		int lr = sipa_netns_leave(err, errlen);
		if (lr < 0) {
			r = lr;
			goto fail;
		}
	}
	if (r < 0) {
		set_text(err, errlen, "cannot open a netfilter netlink socket", -r);
		goto fail;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	/* Error acks need not carry our request back (ipset's own error replies always do). */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
		r = -errno;
		set_text(err, errlen, "cannot bind the netlink socket", -r);
		goto fail;
	}
	h = calloc(1, sizeof *h);
	if (h) {
		h->tx = malloc(TX_CAP);
		h->rx = malloc(RX_CAP);
	}
	if (!h || !h->tx || !h->rx) {
		if (h) {
			free(h->tx);
			free(h->rx);
		}
		free(h);
		set_text(err, errlen, "cannot allocate the handle", ENOMEM);
		r = -ENOMEM;
		goto fail;
	}
	h->fd = fd;
	h->portid = sa.nl_pid;
	h->raw[0] = raw[0];
	h->raw[1] = raw[1];
	h->seq = (uint32_t)time(NULL);
	*out = h;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 2; i++)
		if (raw[i] >= 0)
			close(raw[i]);
	return r;
}

void sipa_close(sipa_handle *h)
{
	if (!h)
		return;
	close(h->fd);
	for (int i = 0; i < 2; i++)
		if (h->raw[i] >= 0)
			close(h->raw[i]);
	free(h->tx);
	free(h->rx);
	free(h);
}

static int send_buf(sipa_handle *h, const uint8_t *buf, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;
	do
		n = sendto(h->fd, buf, len, 0, (struct sockaddr *)&kernel, sizeof kernel);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static ssize_t recv_one(sipa_handle *h)
{
	ssize_t n;
	do
		n = recv(h->fd, h->rx, RX_CAP, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	return n;
}

/* Collects one ack per message for seqs [first, first+count). acks[i] answers seq first+i. */
static int collect_acks(sipa_handle *h, uint32_t first, uint32_t count, struct wire_ack *acks)
{
	uint32_t got = 0;
	uint8_t *seen = calloc(count ? count : 1, 1);
	if (!seen)
		return -ENOMEM;
	while (got < count) {
		ssize_t n = recv_one(h);
		if (n < 0) {
			free(seen);
			return (int)n;
		}
		size_t off = 0;
		struct wire_msg m;
		int r;
		while ((r = wire_next(h->rx, (size_t)n, &off, &m)) > 0) {
			struct wire_ack a;
			if (m.pid != h->portid || m.type != NLMSG_ERROR || wire_parse_ack(&m, &a) < 0)
				continue;
			uint32_t i = a.seq - first;
			if (i < count && !seen[i]) {
				seen[i] = 1;
				acks[i] = a;
				got++;
			}
		}
		if (r < 0) {
			free(seen);
			return r;
		}
	}
	free(seen);
	return 0;
}

/* Sends one request and returns its ack's error code. */
static int request(sipa_handle *h, struct nlbuf *b, uint32_t seq)
{
	struct wire_ack a;
	int r = send_buf(h, b->data, b->len);
	if (r < 0)
		return r;
	r = collect_acks(h, seq, 1, &a);
	return r < 0 ? r : a.error;
}

typedef int (*dump_fn)(const struct wire_msg *m, void *ctx);

/* Sends a dump request and feeds every message of its reply (the request's seq, this socket's port id) to fn
 * until NLMSG_DONE. A dump the kernel flagged NLM_F_DUMP_INTR changed while it was read: a flow or member may be
 * missing from it. It is read to its end all the same (nothing of it is left for the next request to skip) and
 * returns -EINTR, never 0: the caller reads the table again, and fails when every try was interrupted, so that
 * a partial listing is never taken for the whole (a conntrack cut that missed a flow would let it live). */
static int dump(sipa_handle *h, struct nlbuf *b, uint32_t seq, dump_fn fn, void *ctx)
{
	struct wire_dump d = { .seq = seq, .portid = h->portid };
	int r = send_buf(h, b->data, b->len);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = recv_one(h);
		if (n < 0)
			return (int)n;
		size_t off = 0;
		struct wire_msg m;
		while ((r = wire_next(h->rx, (size_t)n, &off, &m)) > 0) {
			int step = wire_dump_step(&d, &m);
			if (step < 0)
				return step;
			if (step == WIRE_DUMP_DONE)
				return d.interrupted ? -EINTR : 0;
			if (step == WIRE_DUMP_DATA && (r = fn(&m, ctx)) < 0)
				return r;
		}
		if (r < 0)
			return r;
	}
}

#define BUF(h) { .data = (h)->tx, .len = 0, .cap = TX_CAP }

/* ---- sets ---- */

int sipa_set_create(sipa_handle *h, const char *name, int family, uint32_t hashsize, uint32_t maxelem,
		    uint32_t flags)
{
	struct nlbuf b = BUF(h);
	if (!valid_name(name) || (family != 4 && family != 6))
		return fail(h, -EINVAL, "create: bad set name or family");
	uint32_t seq = ++h->seq;
	int r = wire_ipset_create(&b, seq, name, family, hashsize, maxelem, flags);
	if (!r)
		r = request(h, &b, seq);
	return r ? fail(h, r, "create set %s", name) : 0;
}

static int named(sipa_handle *h, int cmd, const char *verb, const char *name, const char *name2)
{
	struct nlbuf b = BUF(h);
	if (!valid_name(name) || (name2 && !valid_name(name2)))
		return fail(h, -EINVAL, "%s: bad set name", verb);
	uint32_t seq = ++h->seq;
	int r = wire_ipset_named(&b, seq, cmd, name, name2);
	if (!r)
		r = request(h, &b, seq);
	if (!r)
		return 0;
	return name2 ? fail(h, r, "%s %s %s", verb, name, name2) : fail(h, r, "%s set %s", verb, name);
}

int sipa_set_destroy(sipa_handle *h, const char *name) { return named(h, IPSET_CMD_DESTROY, "destroy", name, NULL); }
int sipa_set_flush(sipa_handle *h, const char *name) { return named(h, IPSET_CMD_FLUSH, "flush", name, NULL); }
int sipa_set_swap(sipa_handle *h, const char *a, const char *b) { return named(h, IPSET_CMD_SWAP, "swap", a, b); }

static int check_entry(const sipa_entry *e)
{
	if (e->op != SIPA_OP_ADD && e->op != SIPA_OP_DEL)
		return -EINVAL;
	if (e->family != 4 && e->family != 6)
		return -EAFNOSUPPORT;
	if (e->prefix > (e->family == 4 ? 32 : 128))
		return -(int)IPSET_ERR_INVALID_CIDR;
	return 0;
}

int sipa_set_test(sipa_handle *h, const char *name, int family, const uint8_t *addr, uint8_t prefix)
{
	struct nlbuf b = BUF(h);
	sipa_entry e = { .op = SIPA_OP_ADD, .family = (uint8_t)family, .prefix = prefix };
	if (!valid_name(name) || check_entry(&e) < 0)
		return fail(h, -EINVAL, "test: bad set name, family or prefix");
	memcpy(e.addr, addr, family == 6 ? 16 : 4);
	uint32_t seq = ++h->seq;
	int r = wire_ipset_test(&b, seq, name, &e);
	if (!r)
		r = request(h, &b, seq);
	if (r == 0)
		return 1;
	if (r == -IPSET_ERR_EXIST)
		return 0;
	return fail(h, r, "test in set %s", name);
}

struct list_ctx {
	sipa_set_info *info;
	sipa_member *out;
	uint32_t cap;
	uint32_t count;
};

static int on_list(const struct wire_msg *m, void *p)
{
	struct list_ctx *c = p;
	return wire_parse_list(m, c->info, c->out, c->cap, &c->count);
}

/* Lists a set (or only its header) into c; a listing the kernel flagged as interrupted is read again. */
static int list_set(sipa_handle *h, const char *name, int header_only, struct list_ctx *c)
{
	int r = -EINTR;
	for (int attempt = 0; attempt < DUMP_TRIES && r == -EINTR; attempt++) {
		struct nlbuf b = BUF(h);
		uint32_t seq = ++h->seq;
		c->count = 0;
		if (c->info)
			memset(c->info, 0, sizeof *c->info);
		r = wire_ipset_list(&b, seq, name, header_only);
		if (!r)
			r = dump(h, &b, seq, on_list, c);
	}
	return r;
}

int sipa_set_info_get(sipa_handle *h, const char *name, sipa_set_info *out)
{
	struct list_ctx c = { .info = out };
	if (!valid_name(name))
		return fail(h, -EINVAL, "info: bad set name");
	int r = list_set(h, name, 1, &c);
	return r ? fail(h, r, "read header of set %s", name) : 0;
}

int sipa_set_list(sipa_handle *h, const char *name, sipa_member *out, uint32_t cap, uint32_t *count)
{
	struct list_ctx c = { .out = out, .cap = cap };
	if (!valid_name(name))
		return fail(h, -EINVAL, "list: bad set name");
	int r = list_set(h, name, 0, &c);
	*count = c.count;
	if (r)
		return fail(h, r, "list set %s", name);
	if (c.count > cap)
		return fail(h, -ENOSPC, "list set %s: %u members, room for %u", name, c.count, cap);
	return 0;
}

int sipa_set_diff(sipa_handle *h, const char *name, const sipa_entry *wanted, uint32_t n, uint32_t slack,
		  uint8_t *state, sipa_member *extra, uint32_t extra_cap, uint32_t *extra_count, uint32_t *members)
{
	*extra_count = 0;
	*members = 0;
	if (!valid_name(name))
		return fail(h, -EINVAL, "compare: bad set name");
	/* Room for as many members as are wanted, and more if the set turns out larger. */
	uint32_t cap = n + 1024;
	for (int attempt = 0; attempt < 4; attempt++) {
		sipa_member *have = malloc((size_t)cap * sizeof *have);
		uint32_t *idx = malloc((size_t)cap * sizeof *idx + 1);
		if (!have || !idx) {
			free(have);
			free(idx);
			return fail(h, -ENOMEM, "compare set %s", name);
		}
		struct list_ctx c = { .out = have, .cap = cap };
		int r = list_set(h, name, 0, &c);
		if (!r && c.count > cap) {
			cap = c.count + 1024; /* the set grew while listed, or is larger than wanted: again, with room */
			free(have);
			free(idx);
			continue;
		}
		uint32_t nextra = 0;
		if (!r)
			r = wire_set_diff(have, c.count, wanted, n, slack, state, idx, &nextra);
		if (!r) {
			*members = c.count;
			*extra_count = nextra;
			for (uint32_t i = 0; i < nextra && i < extra_cap; i++)
				extra[i] = have[idx[i]];
			if (nextra > extra_cap)
				r = -ENOSPC;
		}
		free(have);
		free(idx);
		return r ? fail(h, r, "compare set %s", name) : 0;
	}
	return fail(h, -EAGAIN, "compare set %s: it kept growing", name);
}

/* ---- batches ---- */

/* How a range is sent. FAST: no line numbers (the smallest messages). After a failure the range goes again
 * NUMBERED, so the kernel names the failing element; adds and deletes are idempotent, so what the first try
 * already applied is applied again harmlessly. SINGLE: one element per message, for a culprit the kernel
 * would not name (a malformed element fails the whole message before any line is read). */
enum range_mode { FAST, NUMBERED, SINGLE };

/* Entries [start, end) of a batch, and how they go out (next) or went out (sent). */
struct range {
	uint32_t start, end;
	enum range_mode mode;
};

/* The ranges still to send, in order; a failed range goes again at the back. */
struct range_queue {
	struct range *r;
	uint32_t cap, head, tail;
};

static int enqueue(struct range_queue *q, struct range r)
{
	if (q->tail == q->cap) {
		uint32_t cap = q->cap ? q->cap * 2 : 64;
		struct range *grown = realloc(q->r, cap * sizeof *grown);
		if (!grown)
			return -ENOMEM;
		q->r = grown;
		q->cap = cap;
	}
	q->r[q->tail++] = r;
	return 0;
}

int sipa_batch_apply(sipa_handle *h, const char *name, const sipa_entry *entries, uint32_t n, int32_t *results)
{
	int failed = 0, r = 0;
	struct range_queue q = { 0 };

	h->err[0] = 0;
	if (!valid_name(name))
		return fail(h, -EINVAL, "batch: bad set name");
	/* Entries the kernel would choke on are reported here; runs of good ones between them are queued. */
	for (uint32_t i = 0, run = 0; i <= n; i++) {
		int bad = i < n ? check_entry(&entries[i]) : 1;
		if (i < n && !bad) {
			results[i] = 0;
			continue;
		}
		if (i > run && (r = enqueue(&q, (struct range){ run, i, FAST })) < 0)
			goto out;
		if (i < n) {
			results[i] = bad;
			failed++;
		}
		run = i + 1;
	}

	while (q.head < q.tail) {
		struct nlbuf b = BUF(h);
		struct range sent[MSGS_PER_SEND];
		struct wire_ack acks[MSGS_PER_SEND];
		uint32_t nmsg = 0, first = h->seq + 1;

		while (nmsg < MSGS_PER_SEND && q.head < q.tail) {
			struct range *rg = &q.r[q.head];
			uint32_t avail = rg->end - rg->start;
			uint32_t k = wire_ipset_adt(&b, first + nmsg, name, entries + rg->start,
						    rg->mode == SINGLE ? 1 : avail, rg->mode == FAST ? 0 : rg->start + 1);
			if (k == 0)
				break; /* buffer full: send what we have */
			sent[nmsg++] = (struct range){ rg->start, rg->start + k, rg->mode };
			rg->start += k;
			if (rg->start == rg->end)
				q.head++;
		}
		if (nmsg == 0) { r = -EMSGSIZE; goto out; }
		h->seq += nmsg;
		if ((r = send_buf(h, b.data, b.len)) < 0 || (r = collect_acks(h, first, nmsg, acks)) < 0)
			goto out;

		for (uint32_t k = 0; k < nmsg; k++) {
			struct range s = sent[k];
			int e = acks[k].error;
			uint32_t line = acks[k].lineno;
			if (!e)
				continue;
			struct range next = { 0, 0, FAST };
			if (s.mode == FAST && s.end - s.start > 1) {
				next = (struct range){ s.start, s.end, NUMBERED };
			} else if (s.mode == NUMBERED && line >= s.start + 1 && line <= s.end) {
				/* The kernel applied the elements before the failing one and stopped there. */
				results[line - 1] = e;
				failed++;
				next = (struct range){ line, s.end, NUMBERED };
			} else if (s.end - s.start == 1) {
				results[s.start] = e;
				failed++;
			} else {
				next = (struct range){ s.start, s.end, SINGLE };
			}
			if (next.end > next.start && (r = enqueue(&q, next)) < 0)
				goto out;
		}
	}
out:
	free(q.r);
	if (r < 0)
		return fail(h, r, "batch on set %s", name);
	if (failed) {
		for (uint32_t i = 0; i < n; i++)
			if (results[i]) {
				fail(h, results[i], "batch on set %s: %d of %u entries failed, first at index %u",
				     name, failed, n, i);
				break;
			}
	}
	return failed;
}

/* ---- conntrack ---- */

struct ct_ctx {
	int family;
	const sipa_net *nets; /* prepared: wire_nets_prepare */
	uint32_t n;
	int l4proto;
	struct nlbuf del; /* delete requests, built while the dump streams in */
	uint32_t first_seq;
	uint32_t nmsg;
};

static int on_flow(const struct wire_msg *m, void *p)
{
	struct ct_ctx *c = p;
	struct wire_ct_flow f;
	int r = wire_parse_ct(m, c->family, &f);
	if (r < 0)
		return r; /* a flow that cannot be read could be one to cut: the dump is not to be trusted */
	if (r == 0)
		return 0; /* no original source of the family */
	if ((c->l4proto && f.l4proto != c->l4proto) || !wire_nets_contain(c->nets, c->n, c->family, f.src))
		return 0;
	if (c->del.cap - c->del.len < 512) {
		size_t cap = c->del.cap ? c->del.cap * 2 : 64 * 1024;
		uint8_t *d = realloc(c->del.data, cap);
		if (!d)
			return -ENOMEM;
		c->del.data = d;
		c->del.cap = cap;
	}
	if (wire_ct_delete(&c->del, c->first_seq + c->nmsg, c->family, f.tuple, f.tuple_len, f.id, f.id_len, f.zone,
			   f.zone_len) < 0)
		return -ENOBUFS;
	c->nmsg++;
	return 0;
}

/* Sends the deletes a dump collected in as few sendmsg calls as the buffers allow, acked only at the end of each
 * chunk: the kernel handles a sendmsg's messages in order, so that ack means every earlier one was done, and it
 * answers failures on its own. A flow already gone (ENOENT) was not cut, and is no error. */
static int send_deletes(sipa_handle *h, struct ct_ctx *c, uint32_t *cut)
{
	size_t off = 0;
	uint32_t done = 0;
	while (done < c->nmsg) {
		size_t start = off, end = off, last = off;
		uint32_t k = 0, failed = 0;
		struct wire_msg m;
		int r;
		while (k < 1024 && end - start < TX_CAP && wire_next(c->del.data, c->del.len, &end, &m) > 0) {
			last = (size_t)(m.payload - c->del.data) - NLMSG_HDRLEN;
			k++;
		}
		((struct nlmsghdr *)(c->del.data + last))->nlmsg_flags |= NLM_F_ACK;
		uint32_t first = c->first_seq + done, final = first + k - 1;
		if ((r = send_buf(h, c->del.data + start, end - start)) < 0)
			return r;
		for (int finished = 0; !finished;) {
			ssize_t n = recv_one(h);
			if (n < 0)
				return (int)n;
			size_t roff = 0;
			struct wire_ack a;
			while (wire_next(h->rx, (size_t)n, &roff, &m) > 0) {
				if (m.pid != h->portid || m.type != NLMSG_ERROR || wire_parse_ack(&m, &a) < 0 ||
				    a.seq - first >= k)
					continue;
				if (a.error)
					failed++;
				if (a.seq == final)
					finished = 1;
			}
		}
		*cut += k - failed;
		done += k;
		off = end;
	}
	return 0;
}

int sipa_ct_delete_nets(sipa_handle *h, int family, const sipa_net *nets, uint32_t n, uint8_t l4proto,
			uint32_t *cut)
{
	struct ct_ctx c = { .family = family, .n = 0, .l4proto = l4proto };
	sipa_net *mine = NULL;
	int r;

	*cut = 0;
	if (family != 4 && family != 6)
		return fail(h, -EAFNOSUPPORT, "conntrack: family must be 4 or 6");
	if (n && !(mine = malloc((size_t)n * sizeof *mine)))
		return fail(h, -ENOMEM, "conntrack: no memory for %u networks", n);
	for (uint32_t i = 0; i < n; i++) {
		if (nets[i].family != family)
			continue;
		if (nets[i].prefix < 1 || nets[i].prefix > (family == 4 ? 32 : 128)) {
			free(mine);
			return fail(h, -EINVAL, "conntrack: prefix %u is not 1..%d", nets[i].prefix, family == 4 ? 32 : 128);
		}
		mine[c.n++] = nets[i];
	}
	if (c.n == 0) {
		free(mine);
		return 0;
	}
	wire_nets_prepare(mine, c.n);
	c.nets = mine;
	/* One dump for all of them: kernels from 5.8 filter it by source themselves when there is one address;
	 * older ones, and every dump for several sources or a network (the kernel has no prefix filter), send every
	 * flow of the family and the match below does the job. An interrupted dump may have missed flows: what it
	 * found is cut, and the table is read again; when every try was interrupted the call fails (-EINTR), so
	 * that the caller tries the whole cut again later rather than count it done. */
	int one = c.n == 1 && mine[0].prefix == (family == 4 ? 32 : 128);
	for (int attempt = 0; attempt < DUMP_TRIES; attempt++) {
		struct nlbuf b = BUF(h);
		uint32_t seq = ++h->seq;
		if ((r = wire_ct_dump_source(&b, seq, family, one ? mine[0].addr : NULL)) < 0)
			goto out;
		h->seq += 1u << 20; /* deletes get seqs of their own, clear of the dump's */
		c.first_seq = h->seq;
		c.del.len = 0;
		c.nmsg = 0;
		int dumped = dump(h, &b, seq, on_flow, &c);
		if (dumped < 0 && dumped != -EINTR) {
			r = dumped;
			goto out;
		}
		h->seq += c.nmsg;
		if ((r = send_deletes(h, &c, cut)) < 0 || (r = dumped) == 0)
			goto out;
	}
out:
	free(c.del.data);
	free(mine);
	return r < 0 ? fail(h, r, "cut flows of %u sources", c.n) : 0;
}

/* ---- iptables filter tables ---- */

int sipa_fw_digest(sipa_handle *h, int family, uint8_t *digest, uint32_t *rules)
{
	if (family != 4 && family != 6)
		return fail(h, -EAFNOSUPPORT, "filter table: family must be 4 or 6");
	int fd = h->raw[family == 6];
	if (fd < 0)
		return fail(h, fd, "read the IPv%d filter table: no raw socket", family);
	int level = family == 4 ? IPPROTO_IP : IPPROTO_IPV6;
	/* The IPv4 and IPv6 structs have the same layout; only the entries inside differ. */
	_Static_assert(sizeof(struct ipt_getinfo) == sizeof(struct ip6t_getinfo), "getinfo layouts differ");
	_Static_assert(sizeof(struct ipt_get_entries) == sizeof(struct ip6t_get_entries), "get_entries layouts differ");
	/* The table can change between the two calls (the kernel then answers EAGAIN): read it again. */
	for (int attempt = 0; attempt < 8; attempt++) {
		struct ipt_getinfo info;
		memset(&info, 0, sizeof info);
		strcpy(info.name, "filter");
		socklen_t len = sizeof info;
		if (getsockopt(fd, level, family == 4 ? IPT_SO_GET_INFO : IP6T_SO_GET_INFO, &info, &len) < 0)
			return fail(h, -errno, "read the IPv%d filter table's header", family);
		size_t total = sizeof(struct ipt_get_entries) + info.size;
		struct ipt_get_entries *e = calloc(1, total);
		if (!e)
			return fail(h, -ENOMEM, "read the IPv%d filter table", family);
		strcpy(e->name, "filter");
		e->size = info.size;
		len = (socklen_t)total;
		if (getsockopt(fd, level, family == 4 ? IPT_SO_GET_ENTRIES : IP6T_SO_GET_ENTRIES, e, &len) < 0) {
			int r = -errno;
			free(e);
			if (r == -EAGAIN)
				continue;
			return fail(h, r, "read the IPv%d filter table", family);
		}
		struct wire_table_head head = { .valid_hooks = info.valid_hooks, .num_entries = info.num_entries };
		memcpy(head.hook_entry, info.hook_entry, sizeof head.hook_entry);
		memcpy(head.underflow, info.underflow, sizeof head.underflow);
		uint64_t d;
		int r = wire_table_digest(family, &head, (const uint8_t *)e + sizeof *e, info.size, &d);
		free(e);
		if (r < 0)
			return fail(h, r, "walk the IPv%d filter table", family);
		for (int i = 0; i < 8; i++)
			digest[i] = (uint8_t)(d >> (8 * i));
		*rules = info.num_entries;
		return 0;
	}
	return fail(h, -EAGAIN, "read the IPv%d filter table: it kept changing", family);
}
