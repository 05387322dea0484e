// Reads a JSON request body of at most MAX_BODY bytes. An empty body reads as {} (POST /enable etc.).
import type { IncomingMessage } from 'node:http';
import { duplicateMember } from '../cloud';
import { ApiError } from './errors';

export const MAX_BODY = 16 * 1024;

/** A batch of 65,536 devices (sipa register --from FILE) as JSON. */
export const MAX_BATCH_BODY = 16 * 1024 * 1024;

const tooLarge = (max: number) => new ApiError(413, 'too_large', `the request body is larger than ${max >= 1024 * 1024 ? `${max / 1024 / 1024} MiB` : `${max / 1024} KiB`}`);

export async function readJsonBody(req: IncomingMessage, max = MAX_BODY): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooLarge(max);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(415, 'bad_content_type', 'send the body as JSON with Content-Type: application/json');
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 'bad_json', 'the request body is not valid JSON');
  }
  // JSON.parse keeps the last of two members of one name; what was checked must be what was meant.
  const twice = duplicateMember(text);
  if (twice !== null) throw new ApiError(400, 'bad_json', `the request body has the field "${twice}" more than once`, twice);
  return body;
}
