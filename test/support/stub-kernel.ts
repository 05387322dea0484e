// The kernel the tests stand the real Engine on (test-engine.ts): every Enforcement call a sinon stub.
import sinon from 'sinon';
import type { Enforcement, Health } from '../../module/kernel';

/** A check that found nothing wrong, with `over` on top. */
export function healthy(over: Partial<Health> = {}): Health {
  return { ok: true, problems: [], allowed: { 4: 0, 6: 0 }, damaged: false, members: { extra: [], missing: [], lanDiffers: false, lanIntruders: [] }, ...over };
}

/** A kernel that takes everything and reports it healthy; `over` replaces single calls. */
export function stubKernel(over: Partial<Record<keyof Enforcement, sinon.SinonStub>> = {}): sinon.SinonStubbedInstance<Enforcement> & Enforcement {
  return {
    install: sinon.stub().resolves(),
    remove: sinon.stub().resolves(),
    allow: sinon.stub().returns([]),
    disallow: sinon.stub().returns({ cut: 1, failed: [] }),
    replaceAllowed: sinon.stub().returns([]),
    setLan: sinon.stub(),
    listAllowed: sinon.stub().returns([]),
    installed: sinon.stub().returns(false),
    check: sinon.stub().resolves(healthy()),
    fingerprint: sinon.stub().returns(''),
    ...over,
  } satisfies Record<keyof Enforcement, sinon.SinonStub> as unknown as sinon.SinonStubbedInstance<Enforcement> & Enforcement;
}
