// Root hooks for the whole run: the host's own firewall and sets must be exactly as they were.
import assert from 'node:assert/strict';
import { hostNetfilterSnapshot, removeAllNamespaces } from '../../scripts/lib/netns';

let before = '';

export const mochaHooks = {
  beforeAll(): void {
    before = hostNetfilterSnapshot();
  },
  afterAll(): void {
    removeAllNamespaces();
    assert.equal(hostNetfilterSnapshot(), before, "the host's iptables/ip6tables/ipset state changed during the tests");
  },
};
