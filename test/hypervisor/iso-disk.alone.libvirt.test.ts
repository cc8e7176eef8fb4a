/**
 * A VM with an ISO attached read-only as a raw CD-ROM (a cloud-init seed, an installer) is a
 * readable VM, not an unknown (real libvirt): libvirt's storage pool calls the file `iso` where the
 * domain says `raw`, and taking that for a format mismatch made every other VM's delete keep its
 * files and refused template deletes host-wide (seen when the guest tests ran beside the others).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import { writeSeedIso } from '../../src/hypervisor/seed.js';
import type { HostDriver } from '../../src/hypervisor/types.js';
import { createDisk, makeTestEnv, ownedDiskPath, patternTemplate, skipUnlessLibvirt, thinVm, virsh, type LibvirtTestEnv } from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();

for (const side of ['local', 'remote'] as const) describe(`an ISO attached as a raw CD-ROM (${side} code path)`, { ...skip, timeout: 120_000 }, () => {
  let env: LibvirtTestEnv;
  let host: HostDriver;
  let maker: HostDriver;
  before(() => {
    if (skip.skip) return;
    env = makeTestEnv(`iso${side[0]}`);
    // the remote code path (chains read through libvirt's volume API) on the local daemon
    host = side === 'local'
      ? createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir }).host('local')
      : new LibvirtHost({ name: 'far', uri: 'qemu:///system' }, { storageDir: env.storageDir, local: false });
    // the template and its thin VM are made the local way (its source disk lies outside every pool)
    maker = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir }).host('local');
  });
  after(() => env?.cleanup());

  it('is no unreadable chain: template deletes and VM deletes on the host go on as usual', async () => {
    const t = await patternTemplate(env, maker);
    const dependent = await thinVm(maker, t.name, env.vmName('thin'));
    // A VM with its own disk and a seed ISO in the storage dir (a pool: libvirt says `iso`).
    const uuid = randomUUID();
    const vm = env.vmName('seeded');
    const disk = createDisk(ownedDiskPath(env.storage, uuid));
    const iso = path.join(env.storage.vmsDir, `${uuid}.seed.iso`);
    await writeSeedIso(iso, { instanceId: uuid, vmName: vm, sshKeys: [] });
    const xml = `<domain type='qemu'><name>${vm}</name><uuid>${uuid}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${iso}'/><target dev='hdc' bus='ide'/><readonly/></disk>
</devices></domain>`;
    const file = path.join(tmpdir(), `kvmops-iso-${uuid}.xml`);
    writeFileSync(file, xml);
    try {
      virsh('define', file);
    } finally {
      rmSync(file, { force: true });
    }
    virsh('pool-refresh', env.storage.vmsPool);

    const listed = (await host.listTemplates()).find((x) => x.name === t.name)!;
    assert.deepEqual(listed.unreadable ?? [], [], 'no VM counts as unreadable');
    assert.deepEqual(listed.dependents, [dependent]);
    // Deleting the thin VM removes its overlay and its seed (nothing unknown on the host keeps them).
    const r = await host.deleteVm(dependent);
    assert.equal(r.unreadable, undefined);
    assert.equal(r.removed.length, 2);
    assert.equal(r.removed.filter((f) => f.endsWith('.qcow2')).length, 1, 'the overlay');
    assert.equal(r.removed.filter((f) => /\.seed\.[0-9a-f]{12}\.iso$/.test(f)).length, 1, 'its seed');
    await host.deleteTemplate(t.name);
  });
});
