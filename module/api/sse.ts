// GET /api/v1/events: the engine's events as a text/event-stream, a comment line every 15 s so proxies keep the
// stream open; listeners are removed when the client goes away or the server stops.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EngineApi, EngineEvents } from '../engine';

export const EVENT_NAMES: ReadonlyArray<keyof EngineEvents> = ['registered', 'revoked', 'expired', 'repaired', 'enabled', 'disabled', 'batch'];
export const KEEPALIVE_MS = 15_000;
/** Open streams at most (a few admins with a few tabs each), and how much a slow client may leave unread. */
export const MAX_STREAMS = 32;
export const MAX_UNREAD_BYTES = 1 << 20;

export class EventStreams {
  private readonly open = new Set<() => void>();
  /** Writers of the open streams, for what the API itself announces (binding changes). */
  private readonly writers = new Set<(text: string) => void>();

  constructor(private readonly engine: EngineApi, private readonly keepAliveMs = KEEPALIVE_MS) {}

  /** False when the stream was refused (too many open); the caller answers then. */
  serve(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): boolean {
    if (this.open.size >= MAX_STREAMS) return false;
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-store',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 3000\n: connected\n\n');
    const send = (text: string) => {
      // A client that stops reading is dropped rather than buffered for without end; it reconnects (retry).
      if (res.writableLength > MAX_UNREAD_BYTES) close();
      else res.write(text);
    };
    const offs = EVENT_NAMES.map(name => this.engine.on(name, payload => send(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`)));
    this.writers.add(send);
    const timer = setInterval(() => send(`: keep-alive ${Date.now()}\n\n`), this.keepAliveMs);
    timer.unref();
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      for (const off of offs) off();
      this.writers.delete(send);
      this.open.delete(close);
      if (!res.writableEnded) res.end();
    };
    this.open.add(close);
    req.on('close', close);
    res.on('close', close);
    return true;
  }

  /** An event that is not the engine's (e.g. `portal` after a bind or unbind) to every open stream. */
  announce(name: string, payload: unknown): void {
    const text = `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
    for (const send of [...this.writers]) send(text);
  }

  get count(): number {
    return this.open.size;
  }

  closeAll(): void {
    for (const close of [...this.open]) close();
  }
}
