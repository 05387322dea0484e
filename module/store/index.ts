// The store's public face; other layers import from here.
export { Store } from './store';
export type { StoreOptions, AuditAppend, PruneLimits, Recovered, AuditNote, DeviceFields, DeviceEnd, EndedState, JsonValue, UnreadableRow } from './store';
export { StoreError, type StoreErrorCode } from './errors';
export { Pruner, type PrunerOptions, type PruneResult } from './pruner';
export { SCHEMA_VERSION } from './migrations';
export { SwitchFile, type SwitchReading } from './switch';
export { SpaceReserve } from './reserve';
