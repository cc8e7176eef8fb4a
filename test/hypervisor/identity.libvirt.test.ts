/**
 * One identity per object (real libvirt): domains made by hand with names libvirt reads as
 * something else — `N`, the id of a running VM, and the uuid of another domain — never make a
 * kvmops call act on (or overlook) the wrong domain. Data checked with qemu-io patterns.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { TemplateInfo } from '../../src/hypervisor/types.js';
import {
  chainOf,
  createDisk,
  defineVm,
  domState,
  hasCode,
  hasPattern,
  makeTestEnv,
  patternTemplate,
  removeDomainsByUuid,
  skipUnlessLibvirt,
  thinVm,
  uuidsByName,
  virsh,
  writePattern,
  type LibvirtTestEnv,
} from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();

describe('names libvirt reads as an id or a uuid (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let tpl: TemplateInfo;
  const handMade: string[] = []; // uuids of the domains this file defined without the prefix
  let v: string; // running kvmops VM whose id names X
  let w: string; // kvmops VM whose disk X uses
  let x: string; // hand-made, named `${id of v}`
  let y: string; // hand-made, named like the source VM's uuid, thin on the template
  let wDisk: string;
  let yDisk: string;

  /** Define a domain whose name does not carry the env's prefix; remembered for clean-up by uuid. */
  const defineHandMade = (name: string, disks: string[]) => {
    // by exact name: `virsh domuuid NAME` would answer for the domain whose id or uuid NAME spells
    assert.equal(uuidsByName().get(name), undefined, `a domain named ${name} exists already`);
    defineVm(name, disks);
    const uuid = uuidsByName().get(name);
    assert.ok(uuid);
    handMade.push(uuid);
    return uuid;
  };

  before(async () => {
    env = makeTestEnv('ident');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
    tpl = await patternTemplate(env, host, 0x5a);
    const src = env.vmName('src');
    v = await thinVm(host, tpl.name, env.vmName('v'));
    w = await thinVm(host, tpl.name, env.vmName('w'));
    wDisk = (await host.vmInfo(w)).disks[0]!.file;
    writePattern(wDisk, 0x77);
    await host.startVm(v);
    const id = virsh('domid', v).trim();
    assert.match(id, /^\d+$/);
    x = id;
    defineHandMade(x, [wDisk]);
    y = virsh('domuuid', src).trim();
    yDisk = createDisk(`${env.outsideDir}/y.qcow2`, { backing: tpl.disks[0]!.file });
    writePattern(yDisk, 0x66, '1M', '1M');
    defineHandMade(y, [yDisk]);
  });
  after(() => {
    removeDomainsByUuid(handMade);
    env?.cleanup();
  });

  it('deleting a VM keeps the disk that a domain named like a running VM’s id uses', async () => {
    const r = await host.deleteVm(w);
    assert.doesNotMatch(virsh('list', '--all', '--name'), new RegExp(`^${w}$`, 'm'), 'w is gone');
    // only w's own cloud-init seed, which nothing else uses, goes; the disk the other domain uses stays
    assert.equal(r.removed.length, 1);
    assert.match(r.removed[0]!, /\/vms\/[0-9a-f-]{36}\.seed\.[0-9a-f]{12}\.iso$/);
    assert.ok(r.kept.includes(wDisk));
    assert.ok(existsSync(wDisk));
    assert.ok(hasPattern(wDisk, 0x77), 'X’s data is intact');
    assert.equal(virsh('domstate', handMade[0]!).trim(), 'shut off');
    assert.equal(domState(v), 'running');
  });

  it('snapshot create / list / revert and stop act on the VM only', async () => {
    await host.createSnapshot({ vm: v, name: 's1', kind: 'internal' });
    assert.deepEqual((await host.listSnapshots(v)).map((s) => s.name), ['s1']);
    for (const u of handMade) assert.equal(virsh('snapshot-list', u, '--name').trim(), '', 'no snapshot on a hand-made domain');
    await host.stopVm({ vm: v, force: true });
    assert.equal(domState(v), 'shut off');
    await host.revertSnapshot({ vm: v, name: 's1' });
    assert.equal(domState(v), 'running');
    await host.stopVm({ vm: v, force: true });
    for (const u of handMade) assert.equal(virsh('domstate', u).trim(), 'shut off');
    assert.ok(hasPattern(wDisk, 0x77));
    assert.ok(hasPattern(yDisk, 0x66, '1M', '1M'));
  });

  it('template delete sees the thin domains named like a uuid and like an id', async () => {
    await host.deleteVm(v);
    // X uses w's overlay on the template; Y its own overlay. Neither is read as another domain.
    const deps = [x, y].sort();
    assert.deepEqual((await host.listTemplates()).find((t) => t.name === tpl.name)?.dependents, deps);
    await assert.rejects(host.deleteTemplate(tpl.name), (e: unknown) => {
      assert.ok(hasCode('template-in-use')(e));
      assert.deepEqual((e as { details: { dependents: string[] } }).details.dependents, deps);
      return true;
    });
    assert.ok(existsSync(tpl.disks[0]!.file));
    assert.equal(chainOf(yDisk).length, 2);
    assert.ok(hasPattern(yDisk, 0x5a, '0', '1M'), 'Y still reads the template through its overlay');
  });
});
