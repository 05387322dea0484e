// `GET /api/v1/devices` written page by page: with 65,536 devices the daemon never holds the whole list, as
// objects or as one JSON string; it waits for the client to take each page (backpressure).
import type { ServerResponse } from 'node:http';
import type { Device } from '../engine';

export async function sendDeviceList(res: ServerResponse, pages: AsyncIterable<Device[]>, headers: Record<string, string>): Promise<void> {
  const iterator = pages[Symbol.asyncIterator]();
  // The first page is read before the head goes out, so that a failing store still answers with an error.
  let next = await iterator.next();
  res.writeHead(200, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  let first = true;
  const write = (text: string): Promise<void> | void => {
    if (!res.write(text)) return new Promise<void>(resolve => res.once('drain', resolve));
  };
  await write('{"devices":[');
  try {
    while (!next.done) {
      if (next.value.length) {
        const w = write(`${first ? '' : ','}${next.value.map(d => JSON.stringify(d)).join(',')}`);
        first = false;
        if (w) await w;
      }
      if (res.destroyed) return;
      next = await iterator.next();
    }
  } catch (err) {
    // The head is out: cut the answer short so the client sees a broken body, never a shortened list.
    res.destroy(err as Error);
    return;
  }
  res.end(']}');
}
