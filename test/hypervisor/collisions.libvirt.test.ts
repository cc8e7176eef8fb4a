/**
 * Names that used to collide as files (real libvirt). Disk files were `VM--TARGET[--SNAPSHOT]`
 * and names may contain `--`: VM `b--vda`'s disk was VM `b`'s overlay for snapshot `vda`.
 * Data checked with qemu-io patterns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { TemplateInfo } from '../../src/hypervisor/types.js';
import { chainOf, diskOf, hasPattern, makeTestEnv, patternTemplate, skipUnlessLibvirt, thinVm, writePattern, type LibvirtTestEnv } from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();
const TPL = 0x5a;

describe('names with `--` never share a file (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let tpl: TemplateInfo;
  const deploy = (name: string) => thinVm(host, tpl.name, name);
  const chain = (vm: string) => chainOf(diskOf(vm)).map((c) => c.filename);

  before(async () => {
    env = makeTestEnv('coll');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
    tpl = await patternTemplate(env, host, TPL);
  });
  after(() => env?.cleanup());

  it('VM `b--vda` keeps its disk when VM `b` reverts to its external snapshot `vda`', async () => {
    const b = await deploy(env.vmName('b'));
    const bvda = await deploy(env.vmName('b--vda'));
    writePattern(diskOf(bvda), 0x11);
    writePattern(diskOf(b), 0x22);
    await host.createSnapshot({ vm: b, name: 'vda', kind: 'external' });
    writePattern(diskOf(b), 0x33);
    await host.revertSnapshot({ vm: b, name: 'vda' });

    assert.notEqual(diskOf(b), diskOf(bvda), 'two VMs, two files');
    assert.ok(hasPattern(diskOf(bvda), 0x11), 'b--vda still holds its own data');
    assert.deepEqual(chain(bvda), [diskOf(bvda), tpl.disks[0]!.file]);
    assert.ok(hasPattern(diskOf(b), 0x22), 'b is back at its snapshot');
    assert.ok(!chain(b).includes(diskOf(bvda)));
  });

  it('deploying `c--vda` after `c` has external snapshots `vda` and `s2` leaves c’s chain whole', async () => {
    const c = await deploy(env.vmName('c'));
    writePattern(diskOf(c), 0x41);
    await host.createSnapshot({ vm: c, name: 'vda', kind: 'external' });
    writePattern(diskOf(c), 0x42);
    await host.createSnapshot({ vm: c, name: 's2', kind: 'external' });
    writePattern(diskOf(c), 0x43);
    const before = chain(c);
    assert.equal(before.length, 4); // s2's overlay → vda's overlay → c's disk → template

    const cvda = await deploy(env.vmName('c--vda'));
    assert.deepEqual(chain(c), before, 'c’s chain is untouched');
    assert.ok(!before.includes(diskOf(cvda)));
    assert.deepEqual(chain(cvda), [diskOf(cvda), tpl.disks[0]!.file]);
    assert.ok(hasPattern(diskOf(cvda), TPL), 'the new VM starts from the template, not from c’s data');
    assert.ok(hasPattern(diskOf(c), 0x43));
    await host.revertSnapshot({ vm: c, name: 's2' });
    assert.ok(hasPattern(diskOf(c), 0x42));
    await host.revertSnapshot({ vm: c, name: 'vda' });
    assert.ok(hasPattern(diskOf(c), 0x41));
    assert.ok(hasPattern(diskOf(cvda), TPL));
  });
});
