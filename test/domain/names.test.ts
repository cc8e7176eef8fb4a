import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deployNames, isApplianceName, nameProblem, nameSchema, templateNameSchema, vmNameProblem, vmNameSchema } from '../../src/domain/names.js';
import { isVmDomain } from '../../src/hypervisor/vms.js';
import { assertName } from '../../src/hypervisor/validate.js';

/** The name rules (names.ts): what every name must be, and what a VM name must not be besides. */

describe('names', () => {
  it('ids and uuids are refused everywhere, with the reason', () => {
    assert.match(nameProblem('34') ?? '', /domain id/);
    assert.match(nameProblem('0f8fad5b-d9cb-469f-a165-70867728950e') ?? '', /uuid/);
    assert.match(nameProblem('0f8fad5bd9cb469fa16570867728950e') ?? '', /uuid/);
    assert.equal(nameProblem('web-01'), null);
  });

  describe('names kvmops hides (libguestfs appliance domains)', () => {
    const HIDDEN = ['guestfs-abc1', 'guestfs-3kq9c1xz0ph2', 'guestfs-01', 'guestfs-x'];
    const SHOWN = ['guestfs', 'guestfs-', 'guestfs-abc-01', 'guestfs-ABC1', 'Guestfs-abc1', 'guestfs_abc1', 'my-guestfs-abc1', 'guestfs-abc.1'];

    it('every name the VM lists hide is refused as a VM name, with the reason', () => {
      for (const n of HIDDEN) {
        assert.equal(isVmDomain(n), false, `${n} is hidden`);
        assert.equal(isApplianceName(n), true, n);
        assert.match(vmNameProblem(n) ?? '', /libguestfs appliance.*hides such domains/, n);
        const r = vmNameSchema.safeParse(n);
        assert.equal(r.success, false, n);
        assert.match(r.error!.issues[0]!.message, /libguestfs appliance/);
        assert.throws(() => assertName(n, 'VM'), /is not a valid name: it must not be shaped like a libguestfs appliance/);
      }
    });

    it('every VM name that is shown is accepted: the two rules are one', () => {
      for (const n of SHOWN.filter((s) => nameProblem(s) === null)) {
        assert.equal(isVmDomain(n), true, `${n} is shown`);
        assert.equal(vmNameProblem(n), null, n);
        assert.equal(vmNameSchema.safeParse(n).success, true, n);
        assert.equal(assertName(n, 'VM'), n);
      }
    });

    it('templates and snapshots keep the plain rule: kvmops hides no valid template or snapshot name', () => {
      for (const n of HIDDEN) {
        assert.equal(nameProblem(n), null, n);
        assert.equal(templateNameSchema.safeParse(n).success, true, n);
        assert.equal(nameSchema.safeParse(n).success, true, n);
        assert.equal(assertName(n, 'template'), n);
      }
    });
  });
});

describe('deployNames', () => {
  it('one VM: the name; several: name-01 …; a placed share (first): always numbered, from first', () => {
    assert.deepEqual(deployNames('web', 1), ['web']);
    assert.deepEqual(deployNames('web', 3), ['web-01', 'web-02', 'web-03']);
    assert.deepEqual(deployNames('web', 2, 3), ['web-03', 'web-04']);
    assert.deepEqual(deployNames('web', 1, 4), ['web-04']);
  });
});
