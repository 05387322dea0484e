// Cutting a source's open flows, so that a revoked device's established connections end at once.
import { Family, NetlinkHandle } from './native';

export interface FlowCutter {
  /** Deletes every tracked flow whose original source is the address; returns how many were cut. */
  cut(family: Family, bytes: Uint8Array): number;
}

export function flowCutter(nl: NetlinkHandle): FlowCutter {
  return { cut: (family, bytes) => nl.cutFlows(family, bytes) };
}
