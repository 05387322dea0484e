// A server-sent-events reader with a size bound: an event whose data is over the limit is skipped whole
// (reported once), and a line is never buffered past the limit.

export interface SseEvent {
  event: string;
  data: string;
}

export class SseReader {
  private line = '';
  private skippingLine = false;
  private event = 'message';
  private data: string[] = [];
  private dataBytes = 0;
  private oversize = 0;

  constructor(
    private readonly maxEventBytes: number,
    private readonly onEvent: (e: SseEvent) => void,
    private readonly onOversize: (bytes: number, event: string) => void,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl === -1) {
        if (!this.skippingLine) {
          this.line += chunk.slice(start);
          if (this.line.length > this.maxEventBytes + 64) {
            this.oversize = Math.max(this.oversize, this.dataBytes + this.line.length);
            this.line = '';
            this.skippingLine = true;
          }
        } else {
          this.oversize += chunk.length - start;
        }
        return;
      }
      const piece = chunk.slice(start, nl);
      start = nl + 1;
      if (this.skippingLine) {
        this.oversize += piece.length;
        this.skippingLine = false;
        continue;
      }
      const full = (this.line + piece).replace(/\r$/, '');
      this.line = '';
      this.handleLine(full);
    }
  }

  private handleLine(line: string): void {
    if (line === '') {
      if (this.oversize > 0) this.onOversize(this.oversize, this.event);
      else if (this.data.length > 0) this.onEvent({ event: this.event, data: this.data.join('\n') });
      this.event = 'message';
      this.data = [];
      this.dataBytes = 0;
      this.oversize = 0;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.event = value.slice(0, 32);
    else if (field === 'data') {
      this.dataBytes += Buffer.byteLength(value, 'utf8') + 1;
      if (this.dataBytes > this.maxEventBytes + 1 || this.oversize > 0) {
        this.oversize = Math.max(this.oversize, this.dataBytes);
        this.data = [];
      } else {
        this.data.push(value);
      }
    }
  }
}
