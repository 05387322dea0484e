// Durations as people type them on the CLI ("90", "15m", "1h30m") and as we show them back ("1h 30m").

export class DurationError extends Error {
  readonly code = 'bad_duration';
  constructor(
    readonly input: string,
    readonly reason: string,
    readonly field: string | null = null,
  ) {
    super(`${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)} is not a valid duration`
      + `${field ? ` for ${field}` : ''}: ${reason}; ${ACCEPTED_FORMS}`);
    this.name = 'DurationError';
  }
}

const ACCEPTED_FORMS = 'use whole seconds (90 or 90s), minutes (15m), hours (2h) or a combination (1h30m)';

/** Larger than any expiry the policy allows; keeps the arithmetic exact and the kernel's int32 in reach. */
export const MAX_DURATION_SECONDS = 2_147_483_647;

const UNIT_SECONDS = { h: 3600, m: 60, s: 1 } as const;
type Unit = keyof typeof UNIT_SECONDS;
const UNIT_ORDER: Unit[] = ['h', 'm', 's'];

/**
 * Seconds for "90", "90s", "15m", "2h", "1h30m", "1h 30m 15s". Units come largest first, each at most once;
 * a bare number means seconds. Zero, negatives, fractions and anything else are refused.
 */
export function parseDuration(text: string, field?: string): number {
  const input = typeof text === 'string' ? text : String(text);
  const fail = (reason: string): never => { throw new DurationError(input, reason, field ?? null); };
  if (typeof text !== 'string') fail('it is not text');
  if (text === '') fail('it is empty');
  if (text.length > 40) fail('it is too long');
  if (/^\s|\s$/.test(text)) fail('leading or trailing whitespace is refused');
  if (text.startsWith('-')) fail('negative durations are refused');
  if (/[.,]/.test(text)) fail('fractions are refused');

  if (/^[0-9]+$/.test(text)) return checkTotal(Number(text), fail);

  const part = /([0-9]+)([a-zA-Z]*)/y;
  let total = 0;
  let lastUnit = -1;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    if (!match) fail(`unexpected ${JSON.stringify(text[at])}`);
    const [, digits, unitText] = match as RegExpExecArray;
    if (unitText === '') fail('with several parts, every number needs a unit (h, m or s)');
    const unit = unitText.toLowerCase() as Unit;
    const order = UNIT_ORDER.indexOf(unit);
    if (order === -1) fail(`unknown unit ${JSON.stringify(unitText)}`);
    if (order <= lastUnit) fail('units must come largest first (h, m, s), each at most once');
    lastUnit = order;
    total += Number(digits) * UNIT_SECONDS[unit];
    if (total > MAX_DURATION_SECONDS) fail('it is too large');
    at = part.lastIndex;
    if (text[at] === ' ') at++;
  }
  return checkTotal(total, fail);
}

function checkTotal(total: number, fail: (reason: string) => never): number {
  if (!Number.isSafeInteger(total) || total > MAX_DURATION_SECONDS) fail('it is too large');
  if (total === 0) fail('a duration must be longer than zero');
  return total;
}

/** "1h 30m", "45s", "2h", "0s". Whole seconds only; round before calling. */
export function formatDuration(seconds: number): string {
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RangeError(`formatDuration needs whole non-negative seconds, got ${String(seconds)}`);
  }
  if (seconds === 0) return '0s';
  const parts: string[] = [];
  let rest = seconds;
  for (const unit of UNIT_ORDER) {
    const count = Math.floor(rest / UNIT_SECONDS[unit]);
    rest -= count * UNIT_SECONDS[unit];
    if (count > 0) parts.push(`${count}${unit}`);
  }
  return parts.join(' ');
}
