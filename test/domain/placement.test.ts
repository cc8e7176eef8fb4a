import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { place, type PlacementCandidate, type PlacementNeed } from '../../src/domain/placement.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const host = (name: string, over: Partial<PlacementCandidate> = {}): PlacementCandidate => ({
  host: name,
  reachable: true,
  drained: false,
  holdsTemplate: true,
  memoryAvailable: 8 * GiB,
  storageAvailable: 100 * GiB,
  ...over,
});
const need = (over: Partial<PlacementNeed> = {}): PlacementNeed => ({ template: 'base', count: 4, memoryPerVm: GiB, storagePerVm: 0, templateSize: 2 * GiB, ...over });
const counts = (r: ReturnType<typeof place>) => Object.fromEntries(r.hosts.map((h) => [h.host, h.count]));

describe('placement (/deploy host:auto)', () => {
  it('spreads a count over equal hosts, in turn, each VM where the most memory is left', () => {
    const r = place([host('a'), host('b')], need());
    assert.deepEqual(counts(r), { a: 2, b: 2 });
    assert.deepEqual(r.skipped, []);
  });

  it('by free capacity: the VMs go where memory is left until both have as little left', () => {
    // 6 GiB and 2 GiB, six VMs of 1 GiB: four on big (down to 2 GiB, as small), then one each
    assert.deepEqual(counts(place([host('small', { memoryAvailable: 2 * GiB }), host('big', { memoryAvailable: 6 * GiB })], need({ count: 6 }))), { small: 1, big: 5 });
    assert.deepEqual(counts(place([host('small', { memoryAvailable: 2 * GiB }), host('big', { memoryAvailable: 6 * GiB })], need({ count: 4 }))), { big: 4 });
    // memory first, then storage decides between equal memory
    const r = place([host('a', { storageAvailable: 10 * GiB }), host('b', { storageAvailable: 50 * GiB })], need({ count: 1 }));
    assert.deepEqual(counts(r), { b: 1 });
  });

  it('skips drained and unreachable hosts, and (today) those without the template, saying why', () => {
    const r = place(
      [host('d', { drained: true }), host('u', { reachable: false }), host('n', { holdsTemplate: false }), host('ok', { memoryAvailable: GiB })],
      need({ count: 1 }),
    );
    assert.deepEqual(counts(r), { ok: 1 });
    assert.deepEqual(r.skipped, [
      { host: 'd', reason: 'drained' },
      { host: 'u', reason: 'unreachable' },
      { host: 'n', reason: 'no-template' },
    ]);
  });

  it('holding the template is a preference: with copies allowed, a holder with less room still wins while it fits', () => {
    const r = place([host('copy', { holdsTemplate: false, memoryAvailable: 64 * GiB }), host('holder', { memoryAvailable: 2 * GiB })], need({ count: 3, copyTemplate: true }));
    // two fit on the holder; the third goes to the non-holder, which then needs the copy's room
    assert.deepEqual(counts(r), { copy: 1, holder: 2 });
    assert.equal(r.hosts.find((h) => h.host === 'copy')!.copiesTemplate, true);
    // a copy needs storage for the template: too little → not a candidate
    assert.throws(
      () => place([host('copy', { holdsTemplate: false, storageAvailable: GiB })], need({ count: 1, copyTemplate: true })),
      (e: unknown) => isKvmopsError(e, 'no-capacity') && /storage short: 1 GiB free, 0 MiB a VM plus 2 GiB for the template's copy/.test(e.message),
    );
  });

  it('clone needs the template size in storage on each VM; thin does not', () => {
    assert.deepEqual(counts(place([host('a', { storageAvailable: 5 * GiB })], need({ count: 4 }))), { a: 4 });
    assert.throws(
      () => place([host('a', { storageAvailable: 5 * GiB })], need({ count: 4, storagePerVm: 2 * GiB })),
      (e: unknown) => isKvmopsError(e, 'no-capacity') && /Only 2 of 4 VMs/.test(e.message) && /a — storage short: 5 GiB free, 2 GiB a VM/.test(e.message),
    );
    // unknown storage refuses a clone, but not a thin deploy
    assert.deepEqual(counts(place([host('a', { storageAvailable: null })], need({ count: 1 }))), { a: 1 });
    assert.throws(() => place([host('a', { storageAvailable: null })], need({ count: 1, storagePerVm: GiB })), /storage short: not known/);
  });

  it('not enough memory: a refusal naming what is short where, and no placement at all', () => {
    const e = assertRefused(() =>
      place([host('a', { memoryAvailable: 1536 * MiB }), host('b', { memoryAvailable: 2 * GiB }), host('d', { drained: true })], need({ count: 4, reserve: 0 })),
    );
    assert.match(e.message, /^Only 3 of 4 VMs from template base fit on the hosts: /);
    assert.match(e.message, /a — memory short: 1\.5 GiB available, 1 GiB a VM, 1 placed there/);
    assert.match(e.message, /b — memory short: 2 GiB available, 1 GiB a VM, 2 placed there/);
    assert.match(e.message, /d — drained/);
    assert.match(e.message, /Nothing was deployed\.$/);
    assert.equal(e.details.fits, 3);
  });

  it("each host's own template figures: the same name may be another template there", () => {
    // b's template takes 3 GiB a VM: a (1 GiB) takes the rest once b has one
    assert.deepEqual(counts(place([host('a', { memoryAvailable: 3 * GiB }), host('b', { memoryAvailable: 4 * GiB, memoryPerVm: 3 * GiB })], need({ count: 4 }))), { a: 3, b: 1 });
  });

  it('the reserve is kept on every host', () => {
    const e = assertRefused(() => place([host('a', { memoryAvailable: GiB })], need({ count: 1, reserve: 256 * MiB })));
    assert.equal(e.message, 'No host has room for a VM from template base: a — memory short: 1 GiB available (256 MiB kept for the host), 1 GiB a VM. Nothing was deployed.');
    assert.deepEqual(counts(place([host('a', { memoryAvailable: GiB + 256 * MiB })], need({ count: 1, reserve: 256 * MiB }))), { a: 1 });
  });

  it('no candidate at all: every host named with its reason', () => {
    const e = assertRefused(() => place([host('d', { drained: true }), host('n', { holdsTemplate: false })], need({ count: 1 })));
    assert.equal(e.message, 'No host can take a VM from template base: d — drained; n — does not hold the template. Nothing was deployed.');
  });
});

function assertRefused(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    if (isKvmopsError(e, 'no-capacity')) return e;
    throw e;
  }
  assert.fail('expected no-capacity');
}
