/**
 * Does a template's guest have cloud-init? Looked for when the template is made, on its disk,
 * read-only (src/hypervisor/cloud-init.ts): the real Debian guest → yes; the same guest with
 * cloud-init's program removed → no, and a deploy from it still makes its VM and says no
 * customisation was applied; a blank disk and a pattern-filled one (every non-guest test's
 * disks) → unknown, found without launching libguestfs' appliance (timed here). Recorded in
 * the template's XML, so a fresh read (`listTemplates`, as a re-import does) sees it too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { TemplateInfo } from '../../src/hypervisor/types.js';
import { deploy, NO_CUSTOMISATION } from '../../src/kinds/deploy.js';
import { defineGuest, guestSuite } from '../helpers/guest.js';
import { guestfsSkipReason, localGuestfs } from '../helpers/lab-guest.js';
import { createDisk, defineVm, domainExists, writePattern } from '../helpers/libvirt.js';

describe("a template's guest and cloud-init", { skip: guestfsSkipReason() }, () => {
  const suite = guestSuite('gci');
  const hostOf = () => new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: suite.env.storageDir });

  /** createTemplate, timed from its "looking for cloud-init" step to its end: the detection's cost. */
  const made = async (vm: string, name: string): Promise<{ t: TemplateInfo; detectMs: number; totalMs: number }> => {
    let lookedAt = 0;
    const t0 = performance.now();
    const t = await hostOf().createTemplate({ vm, name, seal: false }, { onProgress: (p) => { if (/cloud-init/.test(p.step)) lookedAt = performance.now(); } });
    const end = performance.now();
    assert.ok(lookedAt > 0, 'the step is reported');
    return { t, detectMs: end - lookedAt, totalMs: end - t0 };
  };

  it('blank and pattern-filled disks: unknown, without an appliance', async (t) => {
    const { env } = suite;
    const blank = env.vmName('blank');
    defineVm(blank, [createDisk(`${env.outsideDir}/blank.qcow2`)]);
    const a = await made(blank, `${env.prefix}blank`);
    assert.equal(a.t.cloudInit, 'unknown');
    const filled = env.vmName('filled');
    const disk = createDisk(`${env.outsideDir}/filled.qcow2`);
    writePattern(disk, 0x5a, '0', '4M');
    defineVm(filled, [disk]);
    const b = await made(filled, `${env.prefix}filled`);
    assert.equal(b.t.cloudInit, 'unknown');
    t.diagnostic(`detection on a blank disk ${Math.round(a.detectMs)} ms (template ${Math.round(a.totalMs)} ms); on a pattern-filled one ${Math.round(b.detectMs)} ms (template ${Math.round(b.totalMs)} ms)`);
    assert.ok(a.detectMs < 5000 && b.detectMs < 5000, 'no appliance was launched');
  });

  it('the real guest: yes; without cloud-init\'s program: no, and a deploy from it says no customisation was applied', { timeout: 20 * 60_000 }, async (t) => {
    if ('skip' in suite.image) return t.skip(suite.image.skip);
    const { env } = suite;
    const withCi = defineGuest(env.vmName('ci'), suite.image.path, env.outsideDir);
    const yes = await made(withCi.name, `${env.prefix}ci`);
    t.diagnostic(`real guest: detection ${Math.round(yes.detectMs / 1000)} s (template ${Math.round(yes.totalMs / 1000)} s)`);
    assert.equal(yes.t.cloudInit, 'yes');

    // the same guest, cloud-init's program removed in its overlay (what `apt remove` leaves: /etc/cloud stays)
    const without = defineGuest(env.vmName('noci'), suite.image.path, env.outsideDir);
    localGuestfs('guestfish', '--format=qcow2', '-a', without.overlay, '-i', '--', 'rm', '/usr/bin/cloud-init', ':', 'is-dir', '/etc/cloud');
    const no = await made(without.name, `${env.prefix}noci`);
    t.diagnostic(`guest without cloud-init: detection ${Math.round(no.detectMs / 1000)} s`);
    assert.equal(no.t.cloudInit, 'no');

    // a fresh read of the templates pool (what the inventory's import does) says the same
    const listed = new Map((await hostOf().listTemplates()).map((x) => [x.name, x.cloudInit]));
    assert.equal(listed.get(`${env.prefix}ci`), 'yes');
    assert.equal(listed.get(`${env.prefix}noci`), 'no');
    assert.equal(listed.get(`${env.prefix}blank`), 'unknown');

    // the deploy kind, on the real host: the VM is made; the result says its seed is not applied
    const ctx = {
      host: hostOf(),
      signal: new AbortController().signal,
      progress: () => {},
      recovered: false,
      job: { id: 1, requestId: `${env.prefix}req`, attempt: 1 },
      reportInventory: () => {},
    };
    const r = await deploy.execute({ host: 'local', template: `${env.prefix}noci`, name: env.vmName('plain'), mode: 'thin', count: 1, start: false }, ctx);
    assert.ok(domainExists(env.vmName('plain')));
    const summary = deploy.summary(JSON.parse(JSON.stringify(r)))!;
    assert.equal(summary, `1 VM: ${env.vmName('plain')} (thin); ${NO_CUSTOMISATION}`);
    const r2 = await deploy.execute({ host: 'local', template: `${env.prefix}ci`, name: env.vmName('seeded'), mode: 'thin', count: 1, start: false }, { ...ctx, job: { ...ctx.job, requestId: `${env.prefix}req2` } });
    assert.doesNotMatch(deploy.summary(JSON.parse(JSON.stringify(r2)))!, /customisation/);
  });
});
