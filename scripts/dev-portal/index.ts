// For tests and the demo: start the dev portal in-process and drive it through its JSON API.
export { startDevPortal, type DevPortal, type DevPortalOptions, type AckRecord } from './server';
export { normaliseRemote } from './http';
export { DevPortalClient } from './client';
export type { Account, PortalDevice, NasRecord } from './state';
