/* The helper's receive path against crafted kernel replies: the library's own code (sipa.c), linked with the
 * socket calls wrapped (-Wl,--wrap=...) so that a fake kernel here answers each request. It checks what the real
 * kernel will not do on demand: replies addressed to another socket or request, a dump flagged NLM_F_DUMP_INTR
 * (the table changed while it was read), a dump ended early by an error, a malformed flow. Built and run for
 * every arch (ARM under qemu-user); no real socket is opened. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "../src/wire.h"
#include "craft.h"

#define PORT 4242u  /* the port id the fake kernel gives the helper's socket */
#define OTHER 4343u /* another socket's */

static int failures, checks;

static void expect(int cond, const char *what)
{
	checks++;
	if (!cond) {
		failures++;
		fprintf(stderr, "FAIL %s\n", what);
	}
}

/* ---- the fake kernel: datagrams queued by the responder, handed out by recv ---- */

static uint8_t queued[8][1 << 14];
static size_t queued_len[8];
static unsigned qhead, qtail;
/* Called once per request message the helper sends; appends the answer to the reply datagram. */
static void (*respond)(const struct wire_msg *req, struct nlbuf *reply);
static unsigned dumps, deletes;

int __wrap_socket(int domain, int type, int protocol)
{
	(void)domain, (void)type, (void)protocol;
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int __wrap_setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
	(void)fd, (void)level, (void)name, (void)value, (void)len;
	return 0;
}

int __wrap_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd, (void)sa, (void)len;
	return 0;
}

int __wrap_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_nl me = { .nl_family = AF_NETLINK, .nl_pid = PORT };
	(void)fd;
	memcpy(sa, &me, sizeof me);
	*len = sizeof me;
	return 0;
}

ssize_t __wrap_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)
{
	(void)fd, (void)flags, (void)to, (void)tolen;
	struct nlbuf reply = { .data = queued[qtail % 8], .cap = sizeof queued[0] };
	struct wire_msg m;
	size_t off = 0;
	while (wire_next(buf, len, &off, &m) > 0)
		respond(&m, &reply);
	if (reply.len) {
		queued_len[qtail % 8] = reply.len;
		qtail++;
	}
	return (ssize_t)len;
}

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
	(void)fd, (void)flags;
	if (qhead == qtail) {
		errno = EAGAIN; /* nothing more to say: the helper reports a timeout instead of waiting */
		return -1;
	}
	size_t n = queued_len[qhead % 8] < len ? queued_len[qhead % 8] : len;
	memcpy(buf, queued[qhead++ % 8], n);
	return (ssize_t)n;
}

static sipa_handle *open_handle(void)
{
	sipa_handle *h = NULL;
	char err[256];
	int r = sipa_open(NULL, &h, err, sizeof err);
	expect(r == 0 && h, "the handle opens on the fake kernel");
	qhead = qtail = dumps = deletes = 0;
	return h;
}

/* ---- ipset listings ---- */

static const uint8_t members[3][4] = { { 203, 0, 113, 1 }, { 203, 0, 113, 2 }, { 198, 51, 100, 0 } };
static const uint8_t prefixes[3] = { 32, 32, 24 };

/* The first listing comes flagged as interrupted (with two members), the next ones whole (three). */
static void list_interrupted_once(const struct wire_msg *req, struct nlbuf *reply)
{
	uint16_t intr = dumps++ == 0 ? NLM_F_DUMP_INTR : 0;
	craft_ipset_members(reply, req->seq, PORT, NLM_F_MULTI, members, prefixes, 1);
	craft_ipset_members(reply, req->seq, PORT, NLM_F_MULTI | intr, members + 1, prefixes + 1, intr ? 1 : 2);
	craft_done(reply, req->seq, PORT, intr, 0);
}

static void list_always_interrupted(const struct wire_msg *req, struct nlbuf *reply)
{
	dumps++;
	craft_ipset_members(reply, req->seq, PORT, NLM_F_MULTI | NLM_F_DUMP_INTR, members, prefixes, 3);
	craft_done(reply, req->seq, PORT, NLM_F_DUMP_INTR, 0);
}

/* Members in messages for another socket and for another request come first; only the last one is the reply. */
static void list_among_strangers(const struct wire_msg *req, struct nlbuf *reply)
{
	dumps++;
	craft_ipset_members(reply, req->seq, OTHER, NLM_F_MULTI, members, prefixes, 1);
	craft_done(reply, req->seq, OTHER, 0, 0);
	craft_ipset_members(reply, req->seq - 1, PORT, NLM_F_MULTI, members + 1, prefixes + 1, 1);
	craft_ipset_members(reply, req->seq, PORT, NLM_F_MULTI, members + 2, prefixes + 2, 1);
	craft_done(reply, req->seq, PORT, 0, 0);
}

/* The dump stops after one member with the error it ended with in NLMSG_DONE. */
static void list_cut_short(const struct wire_msg *req, struct nlbuf *reply)
{
	dumps++;
	craft_ipset_members(reply, req->seq, PORT, NLM_F_MULTI, members, prefixes, 1);
	craft_done(reply, req->seq, PORT, 0, -EMSGSIZE);
}

static void list_checks(void)
{
	sipa_member out[8];
	uint32_t count = 0;
	sipa_handle *h = open_handle();
	if (!h)
		return;

	respond = list_interrupted_once;
	int r = sipa_set_list(h, "sipa4_allow", out, 8, &count);
	expect(r == 0 && count == 3 && dumps == 2, "an interrupted listing is read again, and only the whole one counts");
	expect(count == 3 && out[2].prefix == 24 && out[2].addr[0] == 198, "the members are the second listing's");

	respond = list_always_interrupted;
	dumps = 0;
	r = sipa_set_list(h, "sipa4_allow", out, 8, &count);
	expect(r == -EINTR && dumps == 3, "a listing interrupted at every try fails, after three tries");
	expect(strstr(sipa_last_error(h), "list set sipa4_allow") != NULL, "and says which set");

	sipa_set_info info;
	dumps = 0;
	r = sipa_set_info_get(h, "sipa4_allow", &info);
	expect(r == -EINTR && dumps == 3, "a set header read from interrupted dumps fails too");

	respond = list_among_strangers;
	r = sipa_set_list(h, "sipa4_allow", out, 8, &count);
	expect(r == 0 && count == 1 && out[0].prefix == 24,
	       "messages addressed to another socket, or answering another request, are not read");

	respond = list_cut_short;
	r = sipa_set_list(h, "sipa4_allow", out, 8, &count);
	expect(r == -EMSGSIZE, "a dump the kernel ended with an error fails with it, not as a short listing");
	sipa_close(h);
}

/* ---- conntrack cuts ---- */

static const uint8_t revoked[4] = { 203, 0, 113, 10 }, revoked2[4] = { 203, 0, 113, 11 }, kept[4] = { 192, 0, 2, 9 };

static void ack_deletes(const struct wire_msg *req, struct nlbuf *reply)
{
	deletes++;
	if (req->flags & NLM_F_ACK)
		craft_ack(reply, req->seq, PORT, 0);
}

/* The first dump is flagged as interrupted and shows one flow of the revoked network; the next, whole, shows the
 * other one it missed (and a flow of a source that stays). */
static void ct_interrupted_once(const struct wire_msg *req, struct nlbuf *reply)
{
	if ((req->type & 0xff) == IPCTNL_MSG_CT_DELETE)
		return ack_deletes(req, reply);
	if (dumps++ == 0) {
		craft_ct_flow(reply, req->seq, PORT, NLM_F_MULTI | NLM_F_DUMP_INTR, 4, revoked, 6);
		craft_done(reply, req->seq, PORT, NLM_F_DUMP_INTR, 0);
		return;
	}
	craft_ct_flow(reply, req->seq, PORT, NLM_F_MULTI, 4, revoked2, 6);
	craft_ct_flow(reply, req->seq, PORT, NLM_F_MULTI, 4, kept, 6);
	craft_done(reply, req->seq, PORT, 0, 0);
}

static void ct_always_interrupted(const struct wire_msg *req, struct nlbuf *reply)
{
	if ((req->type & 0xff) == IPCTNL_MSG_CT_DELETE)
		return ack_deletes(req, reply);
	dumps++;
	craft_ct_flow(reply, req->seq, PORT, NLM_F_MULTI | NLM_F_DUMP_INTR, 4, revoked, 6);
	craft_done(reply, req->seq, PORT, NLM_F_DUMP_INTR, 0);
}

/* A flow whose tuple runs past its message. */
static void ct_malformed(const struct wire_msg *req, struct nlbuf *reply)
{
	if ((req->type & 0xff) == IPCTNL_MSG_CT_DELETE)
		return ack_deletes(req, reply);
	dumps++;
	size_t at = reply->len;
	craft_ct_flow(reply, req->seq, PORT, NLM_F_MULTI, 4, revoked, 6);
	uint16_t too_long = 0x200;
	memcpy(reply->data + at + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)), &too_long, 2);
	craft_done(reply, req->seq, PORT, 0, 0);
}

static void ct_checks(void)
{
	sipa_net net = { .family = 4, .prefix = 24, .addr = { 203, 0, 113, 0 } };
	uint32_t cut = 0;
	sipa_handle *h = open_handle();
	if (!h)
		return;

	respond = ct_interrupted_once;
	int r = sipa_ct_delete_nets(h, 4, &net, 1, 6, &cut);
	expect(r == 0 && dumps == 2, "an interrupted conntrack dump is read again");
	expect(cut == 2 && deletes == 2, "the flow the first dump found and the one it missed are both cut");

	respond = ct_always_interrupted;
	dumps = deletes = 0;
	r = sipa_ct_delete_nets(h, 4, &net, 1, 6, &cut);
	expect(r == -EINTR && dumps == 3, "a cut whose every dump was interrupted fails: it is not counted done");
	expect(deletes == 3, "what each interrupted dump found is cut all the same");

	respond = ct_malformed;
	dumps = deletes = 0;
	r = sipa_ct_delete_nets(h, 4, &net, 1, 6, &cut);
	expect(r == -EBADMSG && deletes == 0, "a flow that cannot be read fails the cut instead of being passed over");
	sipa_close(h);
}

int main(void)
{
	list_checks();
	ct_checks();
	printf("replies: %d checks, %d failed (%s)\n", checks, failures,
#if defined(__x86_64__)
	       "x86_64"
#elif defined(__aarch64__)
	       "aarch64"
#elif defined(__arm__)
	       "armhf"
#else
	       "unknown arch"
#endif
	);
	return failures ? 1 : 0;
}
