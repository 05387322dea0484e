// The domain's public face: the records every layer speaks of and the pure rules on them (addresses,
// durations, expiry policy, clock trust). No I/O; every other layer may import it.
export { SYSTEM, type Actor, type AuditEntry, type Device, type DeviceSource, type DeviceState, type ExpiryPolicy, type ExpiryRequest, type RegisterRequest } from './records';
export {
  AddressError, parseDeviceAddress, parseNetwork, networkContains, formatAddress, maskBytes,
  DEFAULT_MAX_PREFIX_WIDTH_V4, DEFAULT_MAX_PREFIX_WIDTH_V6, type AddressFamily, type IpNetwork, type DeviceAddressOptions,
} from './address';
export { DurationError, MAX_DURATION_SECONDS, parseDuration, formatDuration } from './duration';
export {
  PolicyError, checkExpiry, expiresAtFor, kernelTimeoutSeconds, KERNEL_MAX_TIMEOUT, SESSION_ID_PATTERN, DEFAULT_POLICY_BOUNDS,
  type PolicyBounds,
} from './policy';
export { clockTrust, remainingAfterRestore, CLOCK_TOLERANCE_MS, type ClockEvidence, type ClockTrust } from './clock';
export { listRank, compareListOrder, firstInListOrder } from './order';
export { UNSHOWABLE, withoutUnshowable } from './text';
