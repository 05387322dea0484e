// The engine's public face: the contract the surfaces (API, portal link, CLI) drive, the Engine and its
// reconciler for the daemon's wiring, and the logs they share.
export type { Actor, AuditEntry, Device, DeviceSource, DeviceState, ExpiryRequest, RegisterRequest, Status, RuntimeSupport, EngineEvents, EngineApi } from './contract';
export { SYSTEM } from '../domain';
export { Engine, EngineError, BATCH_MAX, type EngineDeps, type EngineErrorCode, type EnforcementSwitch, type BatchItemError } from './engine';
export { Reconciler, WATCH_MS, type Reconcilable } from './reconciler';
export { EventSummary, SUMMARY_WINDOW_MS, type EventSummaryOptions } from './event-summary';
export { jsonLogger, levelMethods, silentLogger, type Logger, type LogLevel } from './log';
export { systemLog, LOG_TOOL, type SystemLog, type SystemLogLevel } from './system-log';
