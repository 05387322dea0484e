/* Matching flow sources against many networks at once (a batch revoke cuts the flows of all its entries in one
 * conntrack dump): the networks are sorted by family, prefix length (longest first) and address, and a source is
 * looked up by binary search once per distinct prefix length. */
#include <stdlib.h>
#include <string.h>
#include "wire.h"

static unsigned bits_of(int family)
{
	return family == 6 ? 128 : 32;
}

static void mask(uint8_t *addr, unsigned prefix)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? prefix - i * 8 : 0;
		addr[i] &= (uint8_t)(0xff00 >> keep);
	}
}

static int order(const void *pa, const void *pb)
{
	const sipa_net *a = pa, *b = pb;
	if (a->family != b->family)
		return a->family - b->family;
	if (a->prefix != b->prefix)
		return b->prefix - a->prefix;
	return memcmp(a->addr, b->addr, 16);
}

void wire_nets_prepare(sipa_net *nets, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		unsigned full = bits_of(nets[i].family);
		if (nets[i].prefix > full)
			nets[i].prefix = (uint8_t)full;
		if (nets[i].family != 6)
			memset(nets[i].addr + 4, 0, 12);
		mask(nets[i].addr, nets[i].prefix);
	}
	qsort(nets, n, sizeof *nets, order);
}

int wire_nets_contain(const sipa_net *nets, uint32_t n, int family, const uint8_t *addr)
{
	uint32_t i = 0;
	while (i < n) {
		/* one group: same family and prefix */
		uint32_t end = i;
		while (end < n && nets[end].family == nets[i].family && nets[end].prefix == nets[i].prefix)
			end++;
		if (nets[i].family == family) {
			uint8_t key[16] = { 0 };
			memcpy(key, addr, family == 6 ? 16 : 4);
			mask(key, nets[i].prefix);
			uint32_t lo = i, hi = end;
			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;
				int c = memcmp(nets[mid].addr, key, 16);
				if (c == 0)
					return 1;
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
		}
		i = end;
	}
	return 0;
}
