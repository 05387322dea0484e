// The page's link to the service: whether what it shows is live, the event stream that keeps it so, and what a
// failed call means for the whole page. A lost stream is tried again after 1 s, then ×1.5 up to 5 s; once it is
// back, everything is fetched again before the page vouches for it.
import { ApiFailure, asFailure, Status, StreamEvents } from './api';

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 5000;
const POLL_MS = 30_000;
const PORTAL_POLL_MS = 2000;

export type Conn = 'loading' | 'live' | 'reconnecting' | 'unreachable' | 'signed-out' | 'refused' | 'failed';

/** The page can vouch for the status it has (it may be on its way, or a moment old). */
export function vouches(conn: Conn): boolean {
  return conn === 'live' || conn === 'reconnecting' || conn === 'loading';
}

type OnEvent = <K extends keyof StreamEvents>(name: K, data: StreamEvents[K]) => void;

/** What the connection asks of the page. */
export interface ConnectionHost {
  /** Reads the event stream until it ends (ApiClient.events). */
  events(onOpen: () => void, onEvent: OnEvent, signal: AbortSignal): Promise<void>;
  /** One event from the stream, after the connection has taken it as a sign of life. */
  onEvent: OnEvent;
  /** Fetches everything again; false when that failed (and was handled). */
  reload(): Promise<boolean>;
  /** Asks the service for its status again. */
  refreshStatus(): void;
  /** The state changed: the whole page is drawn again. */
  redraw(): void;
  /** Only the stream's notice changed (reconnecting, the retry countdown). */
  redrawConnection(): void;
}

export class Connection {
  state: Conn = 'loading';
  /** Why the page cannot be shown (refused or failed). */
  failure: ApiFailure | null = null;
  /** When the shown state was last confirmed by the service. */
  confirmedAt = 0;
  /** The stream was open once: an admin who is signed out now was signed in before. */
  everLive = false;
  /** When the next attempt to open the stream is due. */
  retryAt = 0;
  private stream: AbortController | null = null;
  private retryDelay = RETRY_FIRST_MS;
  private wakeRetry: (() => void) | null = null;
  private poller = 0;
  private portalTimer = 0;

  constructor(private readonly host: ConnectionHost) {}

  /** Signed out, refused, or failed to load: the page shows what happened and the way back instead of the lists. */
  get halted(): boolean {
    return this.state === 'refused' || this.state === 'failed' || this.state === 'signed-out';
  }

  get listening(): boolean {
    return this.stream !== null;
  }

  /** Loading anew: nothing is known to be wrong. */
  begin(): void {
    this.state = 'loading';
    this.failure = null;
  }

  confirm(): void {
    this.confirmedAt = Date.now();
  }

  /** What a failed call means for the whole page: signed out, refused, unreachable, or (`loading`) broken. */
  failed(f: ApiFailure, loading = false): void {
    if (f.signedOut) return this.signOut();
    if (f.status === 403 && (f.code === 'not_admin' || f.code === 'foreign_host' || f.code === 'foreign_origin')) {
      this.stop();
      this.state = 'refused';
      this.failure = f;
      this.host.redraw();
      return;
    }
    if (f.unreachable) {
      this.lostContact();
      if (loading && !this.stream) void this.listen();
      return;
    }
    if (loading) {
      this.state = 'failed';
      this.failure = f;
      this.host.redraw();
    }
  }

  private signOut(): void {
    this.stop();
    clearInterval(this.poller);
    this.state = 'signed-out';
    this.host.redraw();
  }

  private lostContact(): void {
    if (this.state === 'signed-out' || this.state === 'refused') return;
    const wasLive = this.state === 'live';
    this.state = 'unreachable';
    this.host.redraw();
    // A call failed while the stream still looked open: only a stream opened anew (and a fresh load) vouches again.
    if (wasLive && this.stream) {
      this.stop();
      void this.listen();
    }
  }

  stop(): void {
    this.stream?.abort();
    this.stream = null;
    this.wakeRetry?.();
  }

  /** The element left the page: no stream, no polls. */
  close(): void {
    clearInterval(this.poller);
    clearTimeout(this.portalTimer);
    this.stop();
  }

  async listen(): Promise<void> {
    const ctl = new AbortController();
    this.stream = ctl;
    this.retryDelay = RETRY_FIRST_MS;
    while (!ctl.signal.aborted) {
      let opened = false;
      try {
        await this.host.events(() => {
          opened = true;
          this.retryDelay = RETRY_FIRST_MS;
          void this.opened();
        }, (name, data) => {
          this.confirm();
          this.host.onEvent(name, data);
        }, ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted) return;
        const f = asFailure(e);
        if (f.signedOut || (f.status === 403 && f.code !== 'csrf')) return this.failed(f);
        if (!opened && this.state !== 'unreachable') this.lostContact();
      }
      if (ctl.signal.aborted) return;
      // The stream ended: say so at once, grey out only when a new attempt fails too.
      if (opened && this.state === 'live') this.state = 'reconnecting';
      this.retryAt = Date.now() + this.retryDelay;
      this.host.redrawConnection();
      await new Promise<void>(resolve => {
        const t = window.setTimeout(resolve, this.retryDelay);
        this.wakeRetry = () => { clearTimeout(t); resolve(); };
      });
      this.wakeRetry = null;
      this.retryDelay = Math.min(Math.round(this.retryDelay * 1.5), RETRY_MAX_MS);
    }
  }

  /** The stream is open: after a gap, everything is fetched again before the page vouches for it. */
  private async opened(): Promise<void> {
    if (this.state === 'live') return;
    if (this.everLive || this.state === 'unreachable') {
      if (!(await this.host.reload())) return;
    }
    this.everLive = true;
    this.state = 'live';
    this.confirm();
    this.host.redraw();
    clearInterval(this.poller);
    // Every 30 s: a QTS session that ended while the page sat idle is noticed; the portal link's state follows.
    this.poller = window.setInterval(() => {
      if (this.state === 'live') this.host.refreshStatus();
    }, POLL_MS);
  }

  /** Try again now (the admin asked, or an action found the service gone); `resume` when no stream is open. */
  retryNow(resume: () => void): void {
    if (this.state === 'signed-out' || this.state === 'refused') return;
    if (!this.stream) {
      resume();
      return;
    }
    this.wakeRetry?.();
  }

  /** A link that is bound but not connected yet (just bound, or the portal is away) is asked about more often. */
  watchPortal(portal: Status['portal']): void {
    if (!vouches(this.state) || !portal.bound || portal.connected || this.portalTimer) return;
    this.portalTimer = window.setTimeout(() => {
      this.portalTimer = 0;
      if (this.state === 'live') this.host.refreshStatus();
    }, PORTAL_POLL_MS);
  }
}
