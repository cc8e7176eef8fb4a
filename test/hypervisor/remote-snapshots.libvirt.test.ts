/**
 * External snapshots and the copy-out revert on a really remote host (a lab host:
 * scripts/lab-host.sh), reached only as qemu+ssh://: qemu-img runs there over ssh, chains are
 * read and files removed through its libvirt's pools. Every data check runs qemu-io INSIDE the
 * lab, on the files the VM's definition names; no file is looked at from this machine.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isKvmopsError, KvmopsError } from '../../src/domain/errors.js';
import { asDomainUuid } from '../../src/hypervisor/domain-uuid.js';
import type { HostContext } from '../../src/hypervisor/host-context.js';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { MultiOptions, MultiResult } from '../../src/hypervisor/multi.js';
import { revertSnapshot } from '../../src/hypervisor/snapshots/index.js';
import type { VirshArgs } from '../../src/hypervisor/virsh-args.js';
import { Virsh } from '../../src/hypervisor/virsh.js';
import { HOSTILE_FILE_NAME as HOSTILE, inLab as inLabOf, labSkipReason, labUp, labVirsh, pwnedFiles, type Lab } from '../helpers/lab.js';
import { makeTestEnv, type LibvirtTestEnv } from '../helpers/libvirt.js';

describe('snapshots on a remote host over qemu+ssh (a lab host)', { skip: labSkipReason() }, () => {
  let lab: Lab;
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let storageDir: string;
  const inLab = (program: string, ...args: string[]) => inLabOf(lab, program, ...args);
  const remote = (...args: string[]) => labVirsh(lab, ...args);
  const inLabFile = (file: string) => lab.exec('test', '-e', file).status === 0;
  /** The file the VM's vda writes to (persistent definition), read through the lab's libvirt. */
  const top = (vm: string) => {
    const m = /<disk[^>]*device='disk'[\s\S]*?<source file='([^']+)'/.exec(remote('dumpxml', '--inactive', vm));
    assert.ok(m, `no disk in ${vm}`);
    return m[1]!.replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  };
  /** qemu-io inside the lab: the first MiB of `file` (through its chain) holds `pattern`. */
  const holds = (file: string, pattern: number) => {
    const r = lab.exec('qemu-io', '-r', '-U', '-c', `read -P ${pattern} 0 1M`, file);
    assert.equal(r.status, 0, r.stderr);
    return !/Pattern verification failed/.test(r.stdout);
  };
  const write = (vm: string, pattern: number) => inLab('qemu-io', '-c', `write -P ${pattern} 0 1M`, top(vm));
  /** `qemu-img info --backing-chain` inside the lab: the chain's files, top first. */
  const chain = (file: string) =>
    (JSON.parse(inLab('qemu-img', 'info', '-U', '--backing-chain', '--output=json', file)) as Array<{ filename: string }>).map((e) =>
      path.posix.resolve(path.posix.dirname(file), e.filename),
    );
  const filesLeft = () => inLab('find', storageDir, '-type', 'f').trim();
  const noPwned = () => assert.equal(pwnedFiles(lab), '', 'no command hidden in a name ran on the lab');

  /** A shut-off VM in the lab with one 64 MiB qcow2 `vda`: named as kvmops names its files, or `disk` given (made by hand). */
  const makeVm = (suffix: string, disk?: string) => {
    const vm = env.vmName(suffix);
    const uuid = randomUUID();
    const file = disk ?? host.ctx.storage.newVmFile(asDomainUuid(uuid), 'vda');
    inLab('mkdir', '-p', path.posix.dirname(file));
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', file, '64M');
    const esc = file.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    const xmlFile = path.join(env.outsideDir, `${suffix}.xml`);
    writeFileSync(
      xmlFile,
      `<domain type='qemu'><name>${vm}</name><uuid>${uuid}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${esc}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
    );
    remote('define', xmlFile);
    return { vm, disk: file };
  };

  before(() => {
    env = makeTestEnv('rsnap');
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

  it('external snapshot: create, revert (exactly once per request id), delete by merging; nothing left after the VM', async (tc) => {
    const t0 = Date.now();
    const lap = (what: string) => tc.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const { vm, disk } = makeVm('ext');
    write(vm, 0x11);

    const info = await host.createSnapshot({ vm, name: 'ext1', kind: 'external' });
    lap('external snapshot made');
    assert.equal(info.kind, 'external');
    assert.deepEqual(info.files, [disk], 'the disk it wrote to became the base');
    const o1 = top(vm);
    assert.notEqual(o1, disk);
    assert.equal(host.ctx.storage.ownerOf(o1), remote('domuuid', vm).trim(), 'the overlay is named for the VM, in the storage dir');
    assert.deepEqual(chain(o1), [o1, disk], 'the overlay sits on the base');

    write(vm, 0x22);
    assert.ok(holds(o1, 0x22));
    const r1 = await host.revertSnapshot({ vm, name: 'ext1', requestId: 'req-ext-1' });
    lap('reverted');
    assert.equal(r1.alreadyApplied, false);
    const o2 = top(vm);
    assert.notEqual(o2, o1, 'a fresh overlay');
    assert.deepEqual(chain(o2), [o2, disk]);
    assert.ok(holds(o2, 0x11), 'the VM reads the snapshot data again');
    assert.ok(holds(disk, 0x11), 'the base was never written');
    assert.equal(inLabFile(o1), false, 'the previous overlay, needed by nothing, was removed there');

    // the same request again (a job's retry): nothing is reverted over what was written since
    write(vm, 0x33);
    const r2 = await host.revertSnapshot({ vm, name: 'ext1', requestId: 'req-ext-1' });
    assert.equal(r2.alreadyApplied, true);
    assert.equal(top(vm), o2);
    assert.ok(holds(o2, 0x33), 'the retry reverted nothing');
    lap('retry answered');

    // delete: the overlay it writes to is merged into the base, the domain points back at it
    await host.deleteSnapshot({ vm, name: 'ext1' });
    lap('deleted (merged)');
    assert.deepEqual(await host.listSnapshots(vm), []);
    assert.equal(top(vm), disk, 'the VM writes to the base again');
    assert.deepEqual(chain(disk), [disk], 'a chain of one file');
    assert.ok(holds(disk, 0x33), 'the merged data is in the base');
    assert.equal(inLabFile(o2), false, 'the merged overlay was removed');

    const d = await host.deleteVm(vm);
    assert.deepEqual(d.removed, [disk]);
    assert.equal(filesLeft(), '', 'nothing kvmops made is left in the storage dir');
    lap('VM deleted');
  });

  it('exactly once: a revert whose clean-up is cut off (the host unreachable) is finished by the retry, not done again', async () => {
    const { vm, disk } = makeVm('once');
    write(vm, 0x81);
    await host.createSnapshot({ vm, name: 'e1', kind: 'external' });
    const o1 = top(vm);
    write(vm, 0x82);
    // the same host, except that its first vol-delete (the clean-up's removal) fails as a dropped connection does
    let cut = 0;
    class CutVirsh extends Virsh {
      override multi(commands: readonly VirshArgs[], opts?: MultiOptions): Promise<MultiResult[]> {
        if (cut === 0 && commands.some((c) => c[0] === 'vol-delete')) {
          cut++;
          return Promise.reject(new KvmopsError('host-unreachable', 'connection dropped (test)'));
        }
        return super.multi(commands, opts);
      }
    }
    const cutHost: HostContext = { ...host.ctx, virsh: new CutVirsh(host.ctx.uri) };
    await assert.rejects(revertSnapshot(cutHost, { vm, name: 'e1', requestId: 'req-once' }), (e) => isKvmopsError(e, 'host-unreachable'));
    assert.equal(cut, 1, 'it was the clean-up that failed');
    const o2 = top(vm);
    assert.notEqual(o2, o1, 'the revert itself was done');
    assert.ok(inLabFile(o1), 'its clean-up was not');
    write(vm, 0x83); // the work done after the revert

    const again = await host.revertSnapshot({ vm, name: 'e1', requestId: 'req-once' });
    assert.equal(again.alreadyApplied, true);
    assert.equal(top(vm), o2, 'not reverted again');
    assert.ok(holds(o2, 0x83), 'what was written since the revert survives');
    assert.equal(inLabFile(o1), false, 'the retry finished the clean-up');
    assert.ok(holds(disk, 0x81));
    await host.deleteVm(vm);
    assert.equal(filesLeft(), '');
  });

  it('internal snapshot under an external one: the copy-out revert keeps the base, then everything goes', async (tc) => {
    const t0 = Date.now();
    const lap = (what: string) => tc.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const { vm, disk } = makeVm('int');
    write(vm, 0x41);
    await host.createSnapshot({ vm, name: 'int1', kind: 'internal' });
    write(vm, 0x42);
    await host.createSnapshot({ vm, name: 'ext2', kind: 'external' });
    const o = top(vm);
    write(vm, 0x43);
    lap('internal, then external snapshot made');

    // disk now holds int1 AND is ext2's read-only base: reverting it in place would lose ext2
    await host.revertSnapshot({ vm, name: 'int1' });
    lap('reverted by copy');
    const copy = top(vm);
    assert.notEqual(copy, disk);
    assert.notEqual(copy, o);
    assert.equal(host.ctx.storage.ownerOf(copy), remote('domuuid', vm).trim());
    assert.deepEqual(chain(copy), [copy], 'a copy out of a base-level file stands alone');
    assert.ok(holds(copy, 0x41), 'the VM reads int1');
    assert.ok(holds(disk, 0x42), 'ext2 base untouched');
    assert.equal(inLabFile(o), false, "ext2's overlay, needed by nothing now, was removed");
    const snaps = await host.listSnapshots(vm);
    assert.equal(snaps.find((s) => s.current)?.name, 'int1');

    // back to ext2 (a new overlay on its base) proves its data survived
    await host.revertSnapshot({ vm, name: 'ext2' });
    assert.ok(holds(top(vm), 0x42));
    assert.equal(inLabFile(copy), false, 'the copy, needed by nothing now, was removed');

    // int1 now lives in a file the VM no longer writes to: removed from it by qemu-img there
    await host.deleteSnapshot({ vm, name: 'int1' });
    assert.deepEqual((await host.listSnapshots(vm)).map((s) => s.name), ['ext2']);
    assert.doesNotMatch(inLab('qemu-img', 'snapshot', '-U', '-l', disk), /\bint1\b/, 'gone from the qcow2 too');
    assert.ok(holds(top(vm), 0x42));
    lap('internal snapshot deleted from the base');

    const d = await host.deleteVm(vm);
    assert.equal(d.removed.length, 2, `the base and the overlay (${JSON.stringify(d)})`);
    assert.equal(filesLeft(), '', 'nothing kvmops made is left in the storage dir');
    lap('VM deleted');
  });

  it('a running VM: external snapshot, revert (it runs again), delete by blockcommit', async (tc) => {
    const t0 = Date.now();
    const lap = (what: string) => tc.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const { vm, disk } = makeVm('run');
    write(vm, 0x61);
    remote('start', vm);
    await host.createSnapshot({ vm, name: 'r1', kind: 'external' });
    const o1 = top(vm);
    assert.deepEqual(chain(o1), [o1, disk]);
    lap('live external snapshot made');
    await host.revertSnapshot({ vm, name: 'r1' });
    assert.equal(remote('domstate', vm).trim(), 'running', 'taken while running: running again');
    const o2 = top(vm);
    assert.notEqual(o2, o1);
    assert.equal(inLabFile(o1), false);
    lap('reverted, running');
    await host.deleteSnapshot({ vm, name: 'r1' });
    lap('deleted (blockcommit)');
    assert.equal(top(vm), disk);
    assert.deepEqual(chain(disk), [disk]);
    assert.equal(inLabFile(o2), false);
    remote('destroy', vm);
    assert.ok(holds(disk, 0x61));
    await host.deleteVm(vm);
    assert.equal(filesLeft(), '');
  });

  it('fail closed: with the base unreadable, a revert and a delete refuse and change nothing', async () => {
    const { vm, disk } = makeVm('closed');
    await host.createSnapshot({ vm, name: 'c1', kind: 'external' });
    const o = top(vm);
    write(vm, 0x71);
    // the base's qcow2 header zeroed (kept aside, put back afterwards): its chain cannot be read
    const saved = `${lab.storage}/${env.prefix}header`;
    inLab('dd', `if=${disk}`, `of=${saved}`, 'bs=512', 'count=1', 'status=none');
    inLab('dd', 'if=/dev/zero', `of=${disk}`, 'bs=512', 'count=1', 'conv=notrunc', 'status=none');
    try {
      const sum = () => inLab('sha256sum', disk, o);
      const before = sum();
      await assert.rejects(host.deleteSnapshot({ vm, name: 'c1' }), (e) => isKvmopsError(e, 'chain-unreadable'));
      await assert.rejects(host.revertSnapshot({ vm, name: 'c1', requestId: 'req-closed' }), (e) => isKvmopsError(e, 'chain-unreadable'));
      assert.equal(sum(), before, 'neither file was written');
      assert.equal(top(vm), o, 'the VM still writes to its overlay');
      assert.deepEqual((await host.listSnapshots(vm)).map((s) => s.name), ['c1']);
      assert.equal(inLab('ls', host.ctx.storage.vmsDir).trim().split('\n').length, 2, 'no file was made');
    } finally {
      inLab('dd', `if=${saved}`, `of=${disk}`, 'conv=notrunc', 'status=none');
      inLab('rm', '--', saved);
    }
    // the refused revert was not recorded: the same request now reverts
    assert.equal((await host.revertSnapshot({ vm, name: 'c1', requestId: 'req-closed' })).alreadyApplied, false);
    await host.deleteVm(vm);
    assert.equal(filesLeft(), '');
  });

  it('a disk with a hostile file name (made by hand) goes through create, revert and delete without a shell reading it; hostile snapshot names are refused', async () => {
    const srcDir = `${lab.storage}/${env.prefix}src`;
    const { vm, disk } = makeVm('hostile', `${srcDir}/${HOSTILE}.qcow2`);
    write(vm, 0x51);
    await host.createSnapshot({ vm, name: 'h1', kind: 'external' });
    const o1 = top(vm);
    assert.ok(host.ctx.storage.contains(o1));
    assert.deepEqual(chain(o1), [o1, disk]);
    write(vm, 0x52);
    // qemu-img create -b HOSTILE runs there over ssh
    await host.revertSnapshot({ vm, name: 'h1' });
    const o2 = top(vm);
    assert.deepEqual(chain(o2), [o2, disk]);
    assert.ok(holds(o2, 0x51));
    assert.equal(inLabFile(o1), false);
    // not a file kvmops made: kept as it is, only the metadata goes
    await host.deleteSnapshot({ vm, name: 'h1' });
    assert.equal(top(vm), o2);
    assert.ok(inLabFile(disk), 'the hand-made base is never removed');
    assert.ok(holds(o2, 0x51));
    noPwned();

    for (const name of ["a'b", 'a;b', '$(x)', 'a b', 'a\nb', '-rf']) {
      const refused = (e: unknown) => isKvmopsError(e, 'invalid-input');
      await assert.rejects(host.createSnapshot({ vm, name, kind: 'external' }), refused, JSON.stringify(name));
      await assert.rejects(host.revertSnapshot({ vm, name }), refused, JSON.stringify(name));
      await assert.rejects(host.deleteSnapshot({ vm, name }), refused, JSON.stringify(name));
    }
    const d = await host.deleteVm(vm);
    assert.deepEqual(d.removed, [o2]);
    assert.ok(inLabFile(disk), 'the hand-made disk stays');
    assert.equal(filesLeft(), '');
    noPwned();
  });
});
