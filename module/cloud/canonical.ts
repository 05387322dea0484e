// Canonical JSON (PROTOCOL.md §1): what gets signed. Sorted keys, no whitespace, integers only.

export class CanonicalError extends Error {
  readonly code = 'malformed';
  constructor(readonly path: string, reason: string) {
    super(`cannot encode ${path || 'the message'}: ${reason}`);
    this.name = 'CanonicalError';
  }
}

/** The canonical text of a JSON value; throws CanonicalError for anything the encoding does not allow. */
export function canonicalJson(value: unknown): string {
  return encode(value, '', 0);
}

const MAX_DEPTH = 32;

function encode(value: unknown, path: string, depth: number): string {
  if (depth > MAX_DEPTH) throw new CanonicalError(path, `nested deeper than ${MAX_DEPTH}`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isSafeInteger(value)) throw new CanonicalError(path, `${String(value)} is not an integer in ±(2^53−1)`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => encode(v, `${path}[${i}]`, depth + 1)).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new CanonicalError(path, 'only plain objects can be encoded');
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      const parts: string[] = [];
      for (const k of keys) {
        if (obj[k] === undefined) throw new CanonicalError(`${path}.${k}`, 'undefined is not JSON');
        parts.push(`${JSON.stringify(k)}:${encode(obj[k], path ? `${path}.${k}` : k, depth + 1)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new CanonicalError(path, `${typeof value} is not JSON`);
  }
}
