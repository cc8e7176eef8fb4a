/**
 * A template carried from this machine (qemu:///system) to a lab host reached only as
 * qemu+ssh:// (scripts/lab-host.sh): streamed, verified on both sides, renamed into place; the
 * copy's data checked with qemu-io INSIDE the lab; a copy damaged before its check is refused
 * and removed; a second copy is refused; a cancelled copy leaves nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { copyTemplate } from '../../src/hypervisor/template-copy.js';
import type { Progress } from '../../src/hypervisor/types.js';
import { deploy } from '../../src/kinds/deploy.js';
import type { ExecutorContext } from '../../src/kinds/kind.js';
import { inLab as inLabOf, labSkipReason, labUp, type Lab } from '../helpers/lab.js';
import { createDisk, defineVm, makeTestEnv, URI, writePattern, type LibvirtTestEnv } from '../helpers/libvirt.js';

describe('a template copied to another host (this machine → a lab host)', { skip: labSkipReason() }, () => {
  let lab: Lab;
  let env: LibvirtTestEnv;
  let here: LibvirtHost;
  let there: LibvirtHost;
  let storageThere: string;
  const inLab = (program: string, ...args: string[]) => inLabOf(lab, program, ...args);
  const holds = (file: string, pattern: number, offset: string, length = '1M') => {
    const r = lab.exec('qemu-io', '-r', '-U', '-c', `read -P ${pattern} ${offset} ${length}`, file);
    assert.equal(r.status, 0, r.stderr);
    return !/Pattern verification failed/.test(r.stdout);
  };
  /** Every file under the lab's storage dir for this test, sorted. */
  const filesThere = () => inLab('find', storageThere, '-type', 'f').trim().split('\n').filter(Boolean).sort();

  before(async () => {
    env = makeTestEnv('tcopy');
    lab = labUp();
    storageThere = `${lab.storage}/${env.prefix}kv`;
    here = new LibvirtHost({ name: 'here', uri: URI }, { storageDir: env.storageDir });
    there = new LibvirtHost({ name: 'lab', uri: lab.uri }, { storageDir: storageThere });
    // a source with 64 MiB of data: 0x5a in its first MiB, 0x21 from 64 MiB on
    const disk = createDisk(`${env.outsideDir}/src.qcow2`, { sizeMiB: 256 });
    writePattern(disk, 0x5a);
    writePattern(disk, 0x21, '64M', '63M');
    defineVm(env.vmName('src'), [disk]);
    for (const t of ['a', 'bad', 'stop', 'dep', 'race']) await here.createTemplate({ vm: env.vmName('src'), name: `${env.prefix}${t}`, seal: false });
  });
  after(() => {
    try {
      lab?.down();
    } finally {
      env?.cleanup();
    }
  });

  it('is streamed with progress, verified, renamed into place, and deploys there; a second copy is refused', async (tc) => {
    const name = `${env.prefix}a`;
    const fractions: number[] = [];
    const t0 = performance.now();
    const r = await copyTemplate(here.ctx, there.ctx, name, { onProgress: (p) => p.fraction !== undefined && fractions.push(p.fraction) });
    const seconds = (performance.now() - t0) / 1000;
    const src = (await here.listTemplates()).find((t) => t.name === name)!.disks[0]!.file;
    tc.diagnostic(`template copy (${r.bytes} bytes, disk + XML): ${seconds.toFixed(2)} s`);
    // the same bytes with a plain pipe, for comparison: cat here | ssh lab dd
    const key = lab.key;
    const p0 = performance.now();
    const plain = spawnSync(
      'bash',
      ['-c', `cat -- "$1" | ssh -T -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$2" root@"$3" dd of="$4" bs=4M status=none`, 'plain', src, key, lab.addr, `/tmp/${env.prefix}plain`],
      { encoding: 'utf8' },
    );
    assert.equal(plain.status, 0, plain.stderr);
    tc.diagnostic(`plain cat | ssh dd of the same disk file: ${((performance.now() - p0) / 1000).toFixed(2)} s`);
    inLab('rm', '-f', '--', `/tmp/${env.prefix}plain`);

    assert.ok(fractions.length > 1 && fractions.at(-1) === 1, `progress reported: ${fractions.join(' ')}`);
    assert.deepEqual(fractions, [...fractions].sort((a, b) => a - b), 'progress never goes back');
    const listed = (await there.listTemplates()).find((t) => t.name === name);
    assert.ok(listed, 'the template is listed on the lab');
    const original = (await here.listTemplates()).find((t) => t.name === name)!;
    assert.equal(listed.createdAt, original.createdAt, "a replica: the original's name and creation time (a deploy's pin holds on either host)");
    assert.equal(listed.sourceVm, original.sourceVm);
    const file = listed.disks[0]!.file;
    assert.ok(file.startsWith(`${storageThere}/templates/`), `its disk is in the lab's own storage dir: ${file}`);
    assert.ok(holds(file, 0x5a, '0') && holds(file, 0x21, '64M', '63M') && holds(file, 0, '128M'), 'the copy holds the data, read inside the lab');
    assert.equal(inLab('stat', '-c', '%a', file).trim(), '444', 'read-only');
    assert.equal(inLab('sha256sum', '--', file).slice(0, 64), spawnSync('sha256sum', ['--', src], { encoding: 'utf8' }).stdout.slice(0, 64));
    assert.deepEqual(filesThere().filter((f) => f.includes('.part-')), [], 'no temporary file left');

    const vm = (await there.deploy({ template: name, name: env.vmName('thin'), count: 1, mode: 'thin', start: false })).vms[0]!;
    const vmDisk = /<source file='([^']+)'/.exec(spawnSync('virsh', ['-q', '-c', lab.uri, 'dumpxml', vm], { encoding: 'utf8' }).stdout)![1]!;
    assert.ok(holds(vmDisk, 0x5a, '0'), "a VM deployed there from the copy reads the template's data");

    await assert.rejects(copyTemplate(here.ctx, there.ctx, name), (e) => isKvmopsError(e, 'name-taken'));
  });

  it('a copy damaged before its check is refused, and nothing of it is left', async () => {
    const name = `${env.prefix}bad`;
    const before = filesThere();
    await assert.rejects(
      copyTemplate(here.ctx, there.ctx, name, {}, {
        // one byte changed in the written disk: same size, other checksum
        beforeVerify: async (parts) => void inLab('dd', 'if=/dev/urandom', `of=${parts[0]!}`, 'bs=1', 'count=1', 'seek=70000', 'conv=notrunc', 'status=none'),
      }),
      (e) => isKvmopsError(e, 'unexpected-output') && /is not the original/.test((e as Error).message),
    );
    assert.deepEqual(filesThere(), before, 'no file of the refused copy is left');
    assert.ok(!(await there.listTemplates()).some((t) => t.name === name), 'not listed');

    // truncated: another size
    await assert.rejects(
      copyTemplate(here.ctx, there.ctx, name, {}, { beforeVerify: async (parts) => void inLab('truncate', '-s', '-4096', parts[0]!) }),
      (e) => isKvmopsError(e, 'unexpected-output') && /bytes on lab/.test((e as Error).message),
    );
    assert.deepEqual(filesThere(), before, 'no file of the truncated copy is left');
  });

  it('a copy cancelled half-way leaves nothing', async () => {
    const name = `${env.prefix}stop`;
    const before = filesThere();
    const ac = new AbortController();
    await assert.rejects(
      copyTemplate(here.ctx, there.ctx, name, { signal: ac.signal, onProgress: (p) => (p.fraction ?? 0) > 0.2 && ac.abort() }),
      (e) => isKvmopsError(e, 'aborted'),
    );
    assert.deepEqual(filesThere(), before, 'no file of the cancelled copy is left');

    // a disk file left under its final name without its XML (a copy cut off by a crash), other
    // bytes and unused: replaced; the copy is whole
    const final = there.ctx.storage.templateDisk(name, 'vda');
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', final, '1M');
    await copyTemplate(here.ctx, there.ctx, name);
    assert.ok(holds(final, 0x5a, '0') && holds(final, 0x21, '64M', '63M'), 'the copy replaced the leftover');
    assert.deepEqual(filesThere().filter((f) => f.includes('.part-')), [], 'no temporary file left');
  });

  it('the deploy kind on a host without the template copies it there once from the host that has it; the next deploy reuses it', async () => {
    const name = `${env.prefix}dep`;
    const run = async (vm: string, template = name) => {
      const steps: Progress[] = [];
      const ctx: ExecutorContext = {
        host: there,
        hosts: { hostNames: () => ['here', 'lab'], host: (n?: string) => (n === 'here' ? here : there) },
        signal: new AbortController().signal,
        progress: (p) => void steps.push(p),
        recovered: false,
        job: { id: 1, requestId: `req-${randomUUID().slice(0, 8)}`, attempt: 1 },
        reportInventory: () => {},
      };
      const r = (await deploy.execute({ host: 'lab', template, name: vm, mode: 'thin', count: 1, start: false }, ctx)) as Record<string, unknown>;
      return { r, copied: steps.some((s) => s.step.startsWith(`copying template ${template}`)) };
    };
    const first = await run(env.vmName('d1'));
    assert.equal(first.r.templateCopiedFrom, 'here', JSON.stringify(first.r));
    assert.ok(first.copied);
    const listed = (await there.listTemplates()).find((t) => t.name === name);
    assert.ok(listed, 'the replica is listed on the lab');
    assert.ok(holds(listed.disks[0]!.file, 0x5a, '0'));
    const second = await run(env.vmName('d2'));
    assert.equal(second.r.templateCopiedFrom, undefined, 'the second deploy copies nothing');
    assert.ok(!second.copied);
    assert.deepEqual(filesThere().filter((f) => f.includes(`${name}--`)), [listed.disks[0]!.file], 'one copy of its disk on the lab');
    // two deploys at once on a host without the template: both succeed, one copy is placed
    const race = `${env.prefix}race`;
    const both = await Promise.all([run(env.vmName('r1'), race), run(env.vmName('r2'), race)]);
    assert.equal(both.filter((b) => b.r.templateCopiedFrom === 'here').length, 1, JSON.stringify(both.map((b) => b.r)));
    const raceFile = (await there.listTemplates()).find((t) => t.name === race)!.disks[0]!.file;
    assert.ok(holds(raceFile, 0x5a, '0') && holds(raceFile, 0x21, '64M', '63M'), 'the placed copy is whole');
    assert.deepEqual(filesThere().filter((f) => f.includes('.part-')), [], 'no temporary file left');

    // nowhere at all: the deploy says so
    await assert.rejects(
      deploy.execute(
        { host: 'lab', template: `${env.prefix}nowhere`, name: env.vmName('d3'), mode: 'thin', count: 1, start: false },
        { host: there, hosts: { hostNames: () => ['here', 'lab'], host: (n?: string) => (n === 'here' ? here : there) }, signal: new AbortController().signal, progress: () => {}, recovered: false, job: { id: 2, requestId: `req-${randomUUID().slice(0, 8)}`, attempt: 1 }, reportInventory: () => {} },
      ),
      (e) => isKvmopsError(e, 'template-not-found'),
    );
  });
});
