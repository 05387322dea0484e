// The kernel layer's public face: what the engine and the daemon's wiring use of ipset, iptables, conntrack
// and the LAN watcher. The native helper (koffi) and the command runner stay behind it.
export { Enforcer, explainKernelFailure, type Enforcement, type AllowEntry, type KernelAddress, type Health, type MemberDiff } from './enforcer';
export type { FirewallPlan, Protect, Action } from './firewall';
export { LanWatcher, type LanNetwork } from './lan';
export { commandRunner, findProgram, type CommandRunner, type CommandResult } from './command';
export { loadNative, defaultLibraryPath, KernelError, PERMANENT_TIMEOUT, type NativeLibrary, type NetlinkHandle } from './native';
export { packEntry, unpackEntry, heldIn, type PackedEntry } from './packed-entry';
