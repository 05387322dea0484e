// Cutting the open flows of sources and networks, so that a revoked device's connections end at once: one dump of
// the conntrack table for a whole batch.
import { Family, NetlinkHandle } from './native';

const TCP = 6;

export interface FlowCutter {
  /** Deletes the tracked TCP flows whose original source is in one of the networks; returns how many were cut. */
  cut(family: Family, nets: ReadonlyArray<{ bytes: Uint8Array; prefix: number }>): number;
}

/**
 * Only TCP flows are deleted. The chains refuse every packet of a flow that a source no longer allowed started
 * (firewall.ts), so the cut is prompt cleanup, not the enforcement. A cut TCP flow cannot come back: each end's
 * next segment starts no flow (it is not a SYN) and is reset. A deleted UDP or ICMP flow could: the NAS's next
 * datagram would start it anew as the NAS's own, and the device's datagrams would pass as its replies. Those
 * flows are left tracked, refused both ways, until conntrack times them out.
 */
export function flowCutter(nl: NetlinkHandle): FlowCutter {
  return { cut: (family, nets) => nl.cutFlows(family, nets, TCP) };
}
