/* libFuzzer target for everything that reads kernel replies: the datagram walker, a dump's reading of each
 * message, acks (with ipset's line numbers), set listings, conntrack dumps, and the iptables table walk of the filter digest. Built with ASan and UBSan by `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "../src/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sipa_member members[64];
	static sipa_net nets[3] = { { 4, 32, { 0 }, { 203, 0, 113, 7 } }, { 4, 7, { 0 }, { 203 } },
				    { 6, 61, { 0 }, { 0x20, 0x01, 0x0d, 0xb8 } } };
	static int prepared;
	if (!prepared)
		wire_nets_prepare(nets, 3), prepared = 1;
	size_t off = 0;
	struct wire_msg m;
	/* Copy so that ASan sees the exact end of the input. */
	uint8_t *buf = size ? __builtin_malloc(size) : NULL;
	if (size)
		memcpy(buf, data, size);
	while (wire_next(buf, size, &off, &m) > 0) {
		struct wire_ack a;
		sipa_set_info info;
		uint32_t count = 0;
		struct wire_ct_flow f;
		struct wire_dump d = { .seq = m.seq, .portid = m.pid };
		wire_dump_step(&d, &m);
		wire_parse_ack(&m, &a);
		memset(&info, 0, sizeof info);
		wire_parse_list(&m, &info, members, 64, &count);
		if (wire_parse_ct(&m, 4, &f) == 1)
			wire_nets_contain(nets, 3, 4, f.src);
		if (wire_parse_ct(&m, 6, &f) == 1)
			wire_nets_contain(nets, 3, 6, f.src);
	}
	/* The same bytes as a table's entries, with a header whose rule count comes from the first byte. */
	struct wire_table_head head = { .num_entries = size ? data[0] : 0 };
	uint64_t digest;
	wire_table_digest(4, &head, buf, size, &digest);
	wire_table_digest(6, &head, buf, size, &digest);
	__builtin_free(buf);
	return 0;
}
