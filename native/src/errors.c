/* Sentences for the codes the kernel answers with, as libipset's errcode table does. */
#include <errno.h>
#include <string.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/ipset/ip_set_hash.h>
#include "wire.h"

const char *wire_strerror(int code)
{
	int c = code < 0 ? -code : code;
	switch (c) {
	case 0: return "success";
	case IPSET_ERR_PROTOCOL: return "the kernel refused the message (ipset protocol error)";
	case IPSET_ERR_FIND_TYPE: return "the kernel has no hash:net set type (load ip_set_hash_net)";
	case IPSET_ERR_MAX_SETS: return "the kernel's maximum number of sets is reached";
	case IPSET_ERR_BUSY: return "the set is in use by a firewall rule";
	case IPSET_ERR_EXIST_SETNAME2: return "a set with the new name already exists";
	case IPSET_ERR_TYPE_MISMATCH: return "the two sets are not of the same type and family";
	case IPSET_ERR_EXIST: return "the element is not in the set (or already is)";
	case IPSET_ERR_INVALID_CIDR: return "the prefix length is not valid for this set";
	case IPSET_ERR_INVALID_NETMASK: return "the netmask is not valid";
	case IPSET_ERR_INVALID_FAMILY: return "the set does not support this address family";
	case IPSET_ERR_TIMEOUT: return "the set was created without timeout support";
	case IPSET_ERR_REFERENCED: return "the set is referenced by a firewall rule and cannot be destroyed";
	case IPSET_ERR_IPADDR_IPV4: return "an IPv4 address was expected (IPv6 entry in an IPv4 set?)";
	case IPSET_ERR_IPADDR_IPV6: return "an IPv6 address was expected (IPv4 entry in an IPv6 set?)";
	case IPSET_ERR_COUNTER: return "the set has no counter support";
	case IPSET_ERR_COMMENT: return "the set has no comment support";
	case IPSET_ERR_HASH_FULL: return "the set is full (maxelem reached)";
	case IPSET_ERR_HASH_ELEM: return "the set cannot store this element";
	case ENOENT: return "no such set (or flow)";
	case EEXIST: return "a set of that name already exists with other parameters";
	case EPERM: return "not permitted (needs CAP_NET_ADMIN)";
	case EPROTONOSUPPORT: return "the kernel lacks ip_set or nfnetlink support (load ip_set)";
	case EINVAL: return "invalid argument";
	case ENOBUFS: return "netlink buffer overrun: replies were lost";
	case ENOMEM: return "out of memory";
	case ENOSPC: return "the output buffer is too small";
	case EMSGSIZE: return "the message is too large";
	case EBADMSG: return "the kernel's reply was malformed";
	case ETIMEDOUT: return "the kernel did not answer in time";
	case EINTR: return "the table changed while the kernel listed it, at every try (dump interrupted)";
	case EOPNOTSUPP: return "the kernel does not support this request";
	default: return strerror(c);
	}
}
