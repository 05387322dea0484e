import assert from 'node:assert/strict';
import { DurationError, formatDuration, MAX_DURATION_SECONDS, parseDuration } from '../../module/domain/duration';

describe('domain/duration', () => {
  describe('parseDuration', () => {
    const good: Array<[string, number]> = [
      ['90', 90], ['1', 1], ['90s', 90], ['15m', 900], ['2h', 7200], ['1h30m', 5400], ['1h 30m', 5400],
      ['1h30m15s', 5415], ['1h 30m 15s', 5415], ['30m15s', 1815], ['1h15s', 3615], ['2H', 7200], ['15M', 900],
      ['0h30m', 1800], ['12h', 43200], ['3600', 3600], ['007', 7], ['2147483647', MAX_DURATION_SECONDS],
    ];
    for (const [input, seconds] of good) {
      it(`${JSON.stringify(input)} → ${seconds}`, () => { assert.equal(parseDuration(input), seconds); });
    }

    const bad: Array<[string, RegExp]> = [
      ['', /empty/], ['0', /longer than zero/], ['0s', /longer than zero/], ['0h0m', /longer than zero/],
      ['-5', /negative/], ['-5m', /negative/], ['1.5h', /fractions/], ['1,5h', /fractions/], ['0.5', /fractions/],
      ['abc', /unexpected "a"/], ['m', /unexpected "m"/], ['5d', /unknown unit "d"/], ['5min', /unknown unit "min"/],
      ['30m1h', /largest first/], ['1h1h', /largest first/], ['1h30', /needs a unit/], ['1h 30', /needs a unit/],
      [' 90', /whitespace/], ['90 ', /whitespace/], ['1h  30m', /unexpected " "/], ['1h\t30m', /unexpected/],
      ['+90', /unexpected "\+"/], ['1e3', /unknown unit "e"/], ['Infinity', /unexpected "I"/], ['NaN', /unexpected "N"/],
      ['0x10', /unknown unit "x"/], ['2147483648', /too large/], ['99999999999999999999', /too large/],
      ['596524h', /too large/], ['9'.repeat(41), /too long/],
    ];
    for (const [input, reason] of bad) {
      it(`refuses ${JSON.stringify(input)}`, () => {
        assert.throws(() => parseDuration(input), (err: unknown) => {
          assert.ok(err instanceof DurationError);
          assert.equal(err.code, 'bad_duration');
          assert.equal(err.input, input);
          assert.match(err.reason, reason);
          return true;
        });
      });
    }

    it('names the input, the field and the accepted forms', () => {
      assert.throws(() => parseDuration('5d', '--for'), {
        name: 'DurationError',
        field: '--for',
        message: '"5d" is not a valid duration for --for: unknown unit "d"; use whole seconds (90 or 90s), '
          + 'minutes (15m), hours (2h) or a combination (1h30m)',
      });
    });

    it('refuses input that is not a string at runtime', () => {
      assert.throws(() => parseDuration(90 as unknown as string), DurationError);
    });
  });

  describe('formatDuration', () => {
    const cases: Array<[number, string]> = [
      [0, '0s'], [45, '45s'], [60, '1m'], [90, '1m 30s'], [5400, '1h 30m'], [3600, '1h'], [3661, '1h 1m 1s'],
      [43200, '12h'], [90000, '25h'],
    ];
    for (const [seconds, text] of cases) {
      it(`${seconds} → ${text}`, () => {
        assert.equal(formatDuration(seconds), text);
        if (seconds > 0) assert.equal(parseDuration(text), seconds, 'round trip');
      });
    }
    it('refuses negative, fractional and non-finite seconds', () => {
      for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(() => formatDuration(bad), RangeError, String(bad));
      }
    });
  });
});
