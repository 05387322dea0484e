// The API's public face: the daemon calls startApi and nothing else.
export { startApi } from './server';
export type { ApiDeps, ApiHandle, ApiLog } from './server';
export { ApiError } from './errors';
export type { ErrorBody } from './errors';
export { DEFAULT_PANEL_DIR } from './static';
