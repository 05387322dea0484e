// For tests and the demo: start the dev portal in-process and drive it through its JSON API.
export { startDevPortal, normaliseRemote, type DevPortal, type DevPortalOptions, type AckRecord } from './server';
export { DevPortalClient } from './client';
export type { Account, PortalDevice, NasRecord } from './state';
