/* The comparison of a set's members with the entries wanted in it, for the reconciler's full check: done here,
 * on the listing as it came, so that 10,000 members cost a hash table and no JavaScript object each. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "wire.h"

#define KEY_LEN 18 /* family, prefix, 16 address bytes with the host bits cleared */

static void key_of(uint8_t family, uint8_t prefix, const uint8_t *addr, uint8_t *key)
{
	size_t len = family == 6 ? 16 : 4;
	memset(key, 0, KEY_LEN);
	key[0] = family;
	key[1] = prefix;
	for (size_t i = 0; i < len; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 : prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;
		key[2 + i] = (uint8_t)(addr[i] & (0xff00u >> keep));
	}
}

static uint32_t hash_of(const uint8_t *key)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < KEY_LEN; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

int wire_set_diff(const sipa_member *have, uint32_t nhave, const sipa_entry *want, uint32_t nwant, uint32_t slack,
		  uint8_t *state, uint32_t *extra, uint32_t *nextra)
{
	uint32_t cap = 16;
	while (cap < 2 * nwant)
		cap *= 2;
	uint8_t *keys = malloc((size_t)nwant * KEY_LEN + 1);
	uint32_t *slots = calloc(cap, sizeof *slots); /* wanted index + 1; 0 = empty */
	uint8_t *seen = calloc((size_t)nwant + 1, 1);
	if (!keys || !slots || !seen) {
		free(keys);
		free(slots);
		free(seen);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nwant; i++) {
		uint8_t *k = keys + (size_t)i * KEY_LEN;
		key_of(want[i].family, want[i].prefix, want[i].addr, k);
		state[i] = SIPA_DIFF_OK;
		for (uint32_t s = hash_of(k) & (cap - 1);; s = (s + 1) & (cap - 1)) {
			if (!slots[s]) {
				slots[s] = i + 1;
				break;
			}
			if (!memcmp(keys + (size_t)(slots[s] - 1) * KEY_LEN, k, KEY_LEN)) {
				/* Wanted more than once (devices sharing an entry): wanted until the latest of their
				 * timeouts, which stands for all of them. */
				uint32_t j = slots[s] - 1;
				if (want[i].timeout > want[j].timeout) {
					slots[s] = i + 1;
					seen[j] = 1;
				} else {
					seen[i] = 1;
				}
				break;
			}
		}
	}
	*nextra = 0;
	for (uint32_t m = 0; m < nhave; m++) {
		uint8_t k[KEY_LEN];
		key_of(have[m].family, have[m].prefix, have[m].addr, k);
		uint32_t found = 0;
		for (uint32_t s = hash_of(k) & (cap - 1); slots[s]; s = (s + 1) & (cap - 1)) {
			if (!memcmp(keys + (size_t)(slots[s] - 1) * KEY_LEN, k, KEY_LEN)) {
				found = slots[s];
				break;
			}
		}
		if (!found) {
			extra[(*nextra)++] = m;
			continue;
		}
		uint32_t i = found - 1, got = have[m].timeout, wanted = want[i].timeout;
		seen[i] = 1;
		/* 0 wanted: ending now, present or not. 0 in a set with timeouts: an entry that never ends, which
		 * only a permanent entry may be. */
		if (wanted == SIPA_TIMEOUT_PERMANENT) {
			if (got)
				state[i] = SIPA_DIFF_RETIMED;
		} else if (wanted && (!got || (got > wanted ? got - wanted : wanted - got) > slack)) {
			state[i] = SIPA_DIFF_RETIMED;
		}
	}
	for (uint32_t i = 0; i < nwant; i++)
		if (!seen[i] && want[i].timeout > slack)
			state[i] = SIPA_DIFF_MISSING;
	free(keys);
	free(slots);
	free(seen);
	return 0;
}
