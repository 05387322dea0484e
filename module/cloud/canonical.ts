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

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * The path of the first member that appears twice in one object of a JSON text ("type", "body.items[2].id"),
 * or null. JSON.parse keeps the last of two members of one name, and another reader may keep the first: a
 * message whose meaning depends on the reader is refused. Names are compared as decoded ("type" and
 * "typ\u0065" are one name). The text must already have parsed (this scanner does not check the grammar).
 */
export function duplicateMember(text: string): string | null {
  const stack: Array<{ keys: Set<string> | null; path: string; index: number }> = [];
  let lastKeyPath = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const start = i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      const top = stack[stack.length - 1];
      let j = i;
      while (WHITESPACE.has(text[j])) j++;
      if (top?.keys && text[j] === ':') {
        const raw = text.slice(start + 1, i - 1);
        const name = raw.includes('\\') ? JSON.parse(text.slice(start, i)) as string : raw;
        lastKeyPath = top.path ? `${top.path}.${name}` : name;
        if (top.keys.has(name)) return lastKeyPath;
        top.keys.add(name);
      }
      continue;
    }
    if (c === '{' || c === '[') {
      const top = stack[stack.length - 1];
      const at = top === undefined ? '' : top.keys ? lastKeyPath : `${top.path}[${top.index}]`;
      stack.push({ keys: c === '{' ? new Set() : null, path: at, index: 0 });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top && !top.keys) top.index++;
    }
    i++;
  }
  return null;
}
