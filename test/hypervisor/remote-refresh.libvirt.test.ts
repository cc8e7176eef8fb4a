/**
 * On a remote host libvirt lists a file of a pool's folder only after a `pool-refresh`: an
 * overlay made behind its back (`qemu-img create -b` by hand, or libvirt's own disk-only
 * snapshot of another domain) answers "no such volume" until then. A destructive step that read
 * such a file as absent would take what it backs onto as unused. Every destructive step must
 * refresh the pools it reads right before the read it decides on (chains.ts `fresh`).
 *
 * A lab host (scripts/lab-host.sh) reached only as qemu+ssh://; every hand-made change is made
 * inside the lab with qemu-img and `virsh define`, and NOTHING refreshes a pool in between.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { readChains } from '../../src/hypervisor/chains.js';
import { asDomainUuid } from '../../src/hypervisor/domain-uuid.js';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { inLab as inLabOf, labSkipReason, labUp, labVirsh, type Lab } from '../helpers/lab.js';
import { makeTestEnv, type LibvirtTestEnv } from '../helpers/libvirt.js';

describe('destructive steps on a remote host refresh the pools they read (a lab host)', { skip: labSkipReason() }, () => {
  let lab: Lab;
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let storageDir: string;
  const inLab = (program: string, ...args: string[]) => inLabOf(lab, program, ...args);
  const remote = (...args: string[]) => labVirsh(lab, ...args);
  const inLabFile = (file: string) => lab.exec('test', '-e', file).status === 0;
  const diskOf = (vm: string) => {
    const m = /<disk[^>]*device='disk'[\s\S]*?<source file='([^']+)'/.exec(remote('dumpxml', '--inactive', vm));
    assert.ok(m, `no disk in ${vm}`);
    return m[1]!;
  };
  /** Defines a domain in the lab whose vda is `file` (qcow2). */
  const defineWith = (suffix: string, file: string) => {
    const vm = env.vmName(suffix);
    const xmlFile = path.join(env.outsideDir, `${suffix}.xml`);
    writeFileSync(
      xmlFile,
      `<domain type='qemu'><name>${vm}</name><uuid>${randomUUID()}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
    );
    remote('define', xmlFile);
    return vm;
  };
  /** An overlay made by hand inside the lab, in the vms folder, named as kvmops names a new VM's file: no pool refresh. */
  const handOverlay = (backing: string) => {
    const file = host.ctx.storage.newVmFile(asDomainUuid(randomUUID()), 'vda');
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', backing, file);
    return file;
  };

  before(() => {
    env = makeTestEnv('rrefr');
    lab = labUp();
    storageDir = `${lab.storage}/${env.prefix}kv`;
    host = new LibvirtHost({ name: 'lab', uri: lab.uri }, { storageDir });
  });
  after(() => {
    try {
      lab?.down();
    } finally {
      env?.cleanup();
    }
  });

  it('a VM delete keeps its disk while a hand-made overlay (unlisted by libvirt) backs onto it; a template delete is refused', async (tc) => {
    const t0 = Date.now();
    const lap = (what: string) => tc.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // a template in the lab, from a source VM made by hand
    const srcDisk = `${lab.storage}/${env.prefix}src/src.qcow2`;
    inLab('mkdir', '-p', path.posix.dirname(srcDisk));
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', srcDisk, '16M');
    inLab('qemu-io', '-c', 'write -P 0x5a 0 1M', srcDisk);
    const src = defineWith('src', srcDisk);
    const tpl = `${env.prefix}tpl`;
    await host.createTemplate({ vm: src, name: tpl, seal: false });
    // gone again: its disk, outside every pool, would make a chain read refresh every pool anyway
    remote('undefine', src);
    const thin = env.vmName('thin');
    await host.deploy({ template: tpl, name: thin, count: 1, mode: 'thin', start: false });
    lap('template made, thin VM deployed');
    const disk = diskOf(thin);
    inLab('qemu-io', '-c', 'write -P 0x33 0 1M', disk);

    // by hand, behind libvirt's back: an overlay on the thin VM's disk, and a domain using it
    const overlay = handOverlay(disk);
    const other = defineWith('other', overlay);
    assert.notEqual(spawnSync('virsh', ['-q', '-c', lab.uri, 'vol-dumpxml', overlay]).status, 0, 'libvirt does not list the hand-made overlay yet (the case under test)');

    const r = await host.deleteVm(thin);
    lap('thin VM deleted');
    assert.ok(inLabFile(disk), `the thin VM's disk is kept: ${other}'s hand-made overlay backs onto it (${JSON.stringify(r)})`);
    assert.ok(r.kept.includes(disk), `reported as kept: ${JSON.stringify(r)}`);
    const read = lab.exec('qemu-io', '-r', '-U', '-c', 'read -P 0x33 0 1M', overlay);
    assert.equal(read.status, 0, read.stderr);
    assert.doesNotMatch(read.stdout, /Pattern verification failed/, "the other domain still reads the thin VM's data");

    // again for a template: a second hand-made overlay straight on the template's disk
    const tdisk = (await host.listTemplates()).find((t) => t.name === tpl)!.disks[0]!.file;
    const overlay2 = handOverlay(tdisk);
    const other2 = defineWith('other2', overlay2);
    await assert.rejects(host.deleteTemplate(tpl), (e) => isKvmopsError(e, 'template-in-use') && (e as Error).message.includes(other2));
    assert.ok(inLabFile(tdisk), 'the template disk is there');
    lap('template delete refused');

    // a read no step decides on (the inventory's) refreshes when libvirt lists a file of the storage dir as absent, and reads again
    const overlay3 = handOverlay(overlay);
    const read3 = await readChains(host.ctx, [{ file: overlay3, format: 'qcow2' }]);
    assert.deepEqual(
      read3.chains.get(overlay3)?.map((e) => e.file),
      [overlay3, overlay, disk, tdisk],
      `the whole chain of an overlay libvirt did not list (${JSON.stringify([...read3.unreadable])})`,
    );

    // fail closed: a pool that cannot be refreshed (stopped behind kvmops' back) stops a delete before it changes anything
    remote('pool-destroy', host.ctx.storage.templatesPool);
    try {
      await assert.rejects(host.deleteVm(other2), (e) => isKvmopsError(e) && /pool/i.test((e as Error).message), 'the delete fails');
      assert.match(remote('domstate', other2), /shut off/, 'the VM is still defined');
    } finally {
      remote('pool-start', host.ctx.storage.templatesPool);
    }
  });
});
