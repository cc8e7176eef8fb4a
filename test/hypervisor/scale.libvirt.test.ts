/**
 * A host with 3,000 defined domains (real libvirt): every command still works — nothing builds
 * a command line that grows with the number of domains (multi.ts chunks). The domains are tiny
 * (no disk, never started), defined and undefined by uuid in one virsh process reading its
 * commands from stdin. Durations are reported as diagnostics, not asserted.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { TemplateInfo } from '../../src/hypervisor/types.js';
import { diskOf, hasPattern, makeTestEnv, patternTemplate, seedOf, skipUnlessLibvirt, URI, type LibvirtTestEnv } from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();
const COUNT = 3000;

/** One virsh process, commands on stdin (no argv grows with the count). */
function virshScript(lines: string[]): void {
  const r = spawnSync('virsh', ['--connect', URI], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 || /^error:/m.test(r.stderr)) throw new Error(`virsh script failed: ${r.stderr.slice(0, 500)}`);
}

describe(`a host with ${COUNT} domains (real libvirt)`, { ...skip, timeout: 900_000 }, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let tpl: TemplateInfo;
  const uuids: string[] = [];
  const timed = async <T>(t: { diagnostic(s: string): void }, what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await fn();
    t.diagnostic(`${what}: ${Math.round(performance.now() - t0)} ms with ${COUNT} extra domains`);
    return r;
  };

  before(async () => {
    env = makeTestEnv('scale');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
    tpl = await patternTemplate(env, host, 0x5a);
    const dir = `${env.outsideDir}/xml`;
    mkdirSync(dir, { recursive: true });
    const lines: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const uuid = randomUUID();
      uuids.push(uuid);
      const file = `${dir}/${i}.xml`;
      writeFileSync(
        file,
        `<domain type='qemu'><name>${env.vmName(`n${String(i).padStart(4, '0')}`)}</name><uuid>${uuid}</uuid><memory unit='MiB'>16</memory><os><type arch='x86_64'>hvm</type></os></domain>`,
      );
      lines.push(`define ${file}`);
    }
    virshScript(lines);
  });
  after(() => {
    if (uuids.length) virshScript(uuids.map((u) => `undefine ${u}`));
    env?.cleanup();
  });

  it('lists them all', async (t) => {
    const vms = await timed(t, 'vm list', () => host.listVms());
    assert.ok(vms.filter((v) => v.name.startsWith(env.vmName('n'))).length === COUNT);
  });

  it('template create and list, deploy, snapshot list, vm delete, template delete', async (t) => {
    const second = await timed(t, 'template create', () => host.createTemplate({ vm: env.vmName('src'), name: `${env.prefix}second`, seal: false }));
    const listed = await timed(t, 'template list', () => host.listTemplates());
    assert.deepEqual(listed.map((x) => x.name).sort(), [tpl.name, second.name].sort());
    const { vms } = await timed(t, 'deploy thin ×2', () => host.deploy({ template: second.name, name: env.vmName('d'), count: 2, mode: 'thin', start: false }));
    assert.ok(hasPattern(diskOf(vms[0]!), 0x5a));
    await host.createSnapshot({ vm: vms[0]!, name: 's1', kind: 'internal' });
    const snaps = await timed(t, 'snapshot list', () => host.listSnapshots(vms[0]!));
    assert.deepEqual(snaps.map((s) => s.name), ['s1']);
    assert.deepEqual((await host.listTemplates()).find((x) => x.name === second.name)?.dependents, vms);
    for (const vm of vms) {
      const disk = diskOf(vm);
      const seed = seedOf(vm);
      const r = await timed(t, 'vm delete', () => host.deleteVm(vm));
      assert.deepEqual(r.removed, [disk, seed].sort());
    }
    await timed(t, 'template delete', () => host.deleteTemplate(second.name));
    await timed(t, 'template delete (another)', () => host.deleteTemplate(tpl.name));
    assert.deepEqual(await host.listTemplates(), []);
  });
});
