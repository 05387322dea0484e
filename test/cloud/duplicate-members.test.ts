// A message whose meaning depends on which of two same-named members a reader keeps is refused: portal
// envelopes (whose signature covers only one reading) and the API's request bodies.
import assert from 'node:assert/strict';
import { duplicateMember } from '../../module/cloud/canonical';
import { verifyEnvelope } from '../../module/cloud';
import { VECTORS } from './helpers';

const T0 = 1750000000000;
const CTX = { nasId: 'nas-golden-0001', portalPublicKey: VECTORS.portal.publicKey, lastSeq: 6, portalNow: T0 + 1000, skewMs: 120_000 };

describe('cloud: duplicate JSON members', () => {
  it('finds the first member named twice in one object, at any depth, comparing decoded names', () => {
    assert.equal(duplicateMember('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}'), null);
    assert.equal(duplicateMember('{"a":1,"a":2}'), 'a');
    assert.equal(duplicateMember('{"typ\\u0065":"x", "type" : "y"}'), 'type');
    assert.equal(duplicateMember('{"l":[{"k":1},{"k":1,"k":2}]}'), 'l[1].k');
    assert.equal(duplicateMember('{"s":"a \\" : { \\"s\\": ","t":["\\\\",{"s":1}]}'), null, 'quotes, colons and braces inside strings are text');
    assert.equal(duplicateMember('[1,{"x":{"y":{"z":1,"z":2}}}]'), '[1].x.y.z');
    assert.equal(duplicateMember('"plain"'), null);
  });

  it('refuses an envelope with a second "type" before the signed one (which JSON.parse alone would verify)', () => {
    const signed = JSON.stringify(VECTORS.envelope);
    assert.equal(verifyEnvelope(signed, CTX).ok, true);
    const forged = `{"type":"batch",${signed.slice(1)}`;
    assert.equal((JSON.parse(forged) as { type: string }).type, 'register', 'the last member wins in JSON.parse');
    const v = verifyEnvelope(forged, CTX);
    assert.equal(v.ok, false);
    if (!v.ok) {
      assert.equal(v.refusal.code, 'malformed');
      assert.match(v.refusal.message, /the member "type" more than once/);
    }
  });

  it('refuses a duplicate inside the signed body as well', () => {
    const signed = JSON.stringify(VECTORS.envelope);
    const forged = signed.replace('"body":{', '"body":{"address":"198.51.100.99",');
    assert.notEqual(forged, signed);
    const v = verifyEnvelope(forged, CTX);
    assert.equal(v.ok, false);
    if (!v.ok) assert.match(v.refusal.message, /"body\.address" more than once/);
  });
});
