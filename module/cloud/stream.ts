// Reading the portal's event stream (PROTOCOL.md §4): its events handed on one at a time, and the stream dropped
// when nothing arrives for a while.
import type http from 'node:http';
import { SseReader, type SseEvent } from './sse';
import { PortalLinkError } from './transport';

/** What the handler of an event may do to the stream it came on. */
export interface StreamControl {
  /** From now on, nothing for `ms` drops the stream (portal_quiet). */
  quietAfter(ms: number): void;
  /** Drops the stream: readStream rejects with `e`. */
  fail(e: Error): void;
}

export interface StreamHandlers {
  onEvent(ev: SseEvent, control: StreamControl): void;
  /** An event over the size bound, skipped whole. */
  onOversize(bytes: number, event: string, control: StreamControl): void;
}

/**
 * Reads `res` until it ends or closes (resolves) or breaks (rejects, a PortalLinkError). Any event, an oversize one
 * too, restarts the quiet clock before it is handed on.
 */
export function readStream(res: http.IncomingMessage, maxEventBytes: number, quietMs: number, handlers: StreamHandlers): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => res.destroy(new PortalLinkError('portal_quiet', `no heartbeat from the portal for ${quietMs / 1000}s`)), quietMs);
    };
    const control: StreamControl = {
      quietAfter: (ms) => { quietMs = ms; arm(); },
      fail: (e) => { clearTimeout(timer); res.destroy(); reject(e); },
    };
    const reader = new SseReader(maxEventBytes,
      (ev) => { arm(); handlers.onEvent(ev, control); },
      (bytes, event) => { arm(); handlers.onOversize(bytes, event, control); });
    arm();
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => reader.push(chunk));
    res.on('end', () => { clearTimeout(timer); resolve(); });
    res.on('error', (e) => { clearTimeout(timer); reject(e instanceof PortalLinkError ? e : new PortalLinkError('portal_unreachable', `stream broken: ${e.message}`)); });
    res.on('close', () => { clearTimeout(timer); resolve(); });
  });
}
