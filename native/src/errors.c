/* The codes the kernel and the helper answer with, each with its name and a sentence, in one table as libipset's
 * errcode.c keeps them; any other is described by strerror. module/kernel/native-abi.ts is generated from it
 * (test/abi.c), so that TypeScript names codes instead of writing numbers. */
#include <errno.h>
#include <string.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/ipset/ip_set_hash.h>
#include "wire.h"

#define CODE(c, text) { c, #c, text }

static const struct wire_code codes[] = {
	CODE(IPSET_ERR_PROTOCOL, "the kernel refused the message (ipset protocol error)"),
	CODE(IPSET_ERR_FIND_TYPE, "the kernel has no hash:net set type (load ip_set_hash_net)"),
	CODE(IPSET_ERR_MAX_SETS, "the kernel's maximum number of sets is reached"),
	CODE(IPSET_ERR_BUSY, "the set is in use by a firewall rule"),
	CODE(IPSET_ERR_EXIST_SETNAME2, "a set with the new name already exists"),
	CODE(IPSET_ERR_TYPE_MISMATCH, "the two sets are not of the same type and family"),
	CODE(IPSET_ERR_EXIST, "the element is not in the set (or already is)"),
	CODE(IPSET_ERR_INVALID_CIDR, "the prefix length is not valid for this set"),
	CODE(IPSET_ERR_INVALID_NETMASK, "the netmask is not valid"),
	CODE(IPSET_ERR_INVALID_FAMILY, "the set does not support this address family"),
	CODE(IPSET_ERR_TIMEOUT, "the set was created without timeout support"),
	CODE(IPSET_ERR_REFERENCED, "the set is referenced by a firewall rule and cannot be destroyed"),
	CODE(IPSET_ERR_IPADDR_IPV4, "an IPv4 address was expected (IPv6 entry in an IPv4 set?)"),
	CODE(IPSET_ERR_IPADDR_IPV6, "an IPv6 address was expected (IPv4 entry in an IPv6 set?)"),
	CODE(IPSET_ERR_COUNTER, "the set has no counter support"),
	CODE(IPSET_ERR_COMMENT, "the set has no comment support"),
	CODE(IPSET_ERR_HASH_FULL, "the set is full (maxelem reached)"),
	CODE(IPSET_ERR_HASH_ELEM, "the set cannot store this element"),
	CODE(ENOENT, "no such set (or flow)"),
	CODE(EEXIST, "a set of that name already exists with other parameters"),
	CODE(EPERM, "not permitted (needs CAP_NET_ADMIN)"),
	CODE(EPROTONOSUPPORT, "the kernel lacks ip_set or nfnetlink support (load ip_set)"),
	CODE(EINVAL, "invalid argument"),
	CODE(ENOBUFS, "netlink buffer overrun: replies were lost"),
	CODE(ENOMEM, "out of memory"),
	CODE(ENOSPC, "the output buffer is too small"),
	CODE(EMSGSIZE, "the message is too large"),
	CODE(EBADMSG, "the kernel's reply was malformed"),
	CODE(ETIMEDOUT, "the kernel did not answer in time"),
	CODE(EOPNOTSUPP, "the kernel does not support this request"),
	CODE(EINTR, "the table changed while the kernel listed it, at every try (dump interrupted)"),
};

const struct wire_code *wire_codes(size_t *n)
{
	*n = sizeof codes / sizeof codes[0];
	return codes;
}

const char *wire_strerror(int code)
{
	int c = code < 0 ? -code : code;
	if (c == 0)
		return "success";
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (codes[i].code == c)
			return codes[i].text;
	return strerror(c);
}
