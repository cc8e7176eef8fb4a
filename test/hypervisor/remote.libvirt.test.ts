/**
 * Programs run ON a really remote host (a lab host: scripts/lab-host.sh) over the SSH transport
 * of its qemu+ssh:// URI, with names chosen to hurt: a source VM made by hand whose disk file
 * name holds spaces, quotes, `$()`, backticks and `;` becomes a template (qemu-img convert runs
 * there over ssh on that path) with its data and nothing else happening; hostile words given to
 * the transport arrive as themselves; ssh's own failure is `host-unreachable`; a VM name that
 * could hurt never gets that far.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { CHMOD, chmodArgs } from '../../src/hypervisor/coreutils-args.js';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { remoteShell, runOverSsh } from '../../src/hypervisor/remote-exec.js';
import { labSkipReason, labUp, type Lab } from '../helpers/lab.js';
import { makeTestEnv, type LibvirtTestEnv } from '../helpers/libvirt.js';

/** Every character class a shell would act on, in one file name (no `/`, no NUL: a file name can't hold them). */
const HOSTILE = `a b'c"d;$(touch kvmops-pwned)\`touch kvmops-pwned2\`|&*e`;

describe('programs on a remote host over ssh, with hostile names (a lab host)', { skip: labSkipReason() }, () => {
  let lab: Lab;
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  const inLab = (program: string, ...args: string[]) => {
    const r = lab.exec(program, ...args);
    assert.equal(r.status, 0, `${program} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const remote = (...args: string[]) => {
    const r = spawnSync('virsh', ['-q', '-c', lab.uri, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `virsh ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const hostileStillThere = (file: string) => lab.exec('test', '-f', file).status === 0;
  const noPwned = () => {
    const r = lab.exec('sh', '-c', 'ls /kvmops-pwned* /tmp/kvmops-pwned* ~/kvmops-pwned* 2>/dev/null; true');
    assert.equal(r.stdout, '', 'no command hidden in a name ran on the lab');
  };

  before(() => {
    env = makeTestEnv('rssh');
    lab = labUp();
    host = new LibvirtHost({ name: 'lab', uri: lab.uri }, { storageDir: `${lab.storage}/${env.prefix}kv` });
  });
  after(() => {
    try {
      lab?.down();
    } finally {
      env?.cleanup();
    }
  });

  it('hostile words reach the remote program as themselves (real sshd, root login shell)', async () => {
    const s = remoteShell(host.ctx)!;
    assert.ok(s, 'a qemu+ssh host has a remote shell');
    const dir = `${lab.storage}/${env.prefix}words`;
    inLab('mkdir', '-p', dir);
    const words = [HOSTILE, 'line\nbreak', "''", '$HOME', '~', '-rf', ' '];
    for (const w of words) inLab('touch', path.posix.join(dir, w));
    // chmod over ssh on each hostile file name: each must exist literally there, or chmod fails
    await runOverSsh(s, CHMOD, chmodArgs.mode('0400', words.map((w) => path.posix.join(dir, w))), { timeoutMs: 30_000 });
    for (const w of words) assert.equal(inLab('stat', '-c', '%a', path.posix.join(dir, w)).trim(), '400', JSON.stringify(w));
    noPwned();
  });

  it('a template from a VM made by hand whose disk, in no pool, has a hostile file name', async (tc) => {
    const t0 = Date.now();
    const lap = (what: string) => tc.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const srcDir = `${lab.storage}/${env.prefix}src`;
    inLab('mkdir', '-p', srcDir);
    const disk = `${srcDir}/${HOSTILE}.qcow2`;
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', disk, '16M');
    inLab('qemu-io', '-c', 'write -P 0x5a 0 1M', disk);
    const vm = env.vmName('src');
    const xmlEsc = disk.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    const xmlFile = path.join(env.outsideDir, 'src.xml');
    writeFileSync(
      xmlFile,
      `<domain type='qemu'><name>${vm}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${xmlEsc}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
    );
    remote('define', xmlFile);
    assert.ok(remote('domblklist', vm).includes(HOSTILE), 'libvirt took the path as it is');

    const steps: number[] = [];
    const t = await host.createTemplate({ vm, name: `${env.prefix}tpl`, seal: false }, { onProgress: (p) => p.fraction !== undefined && steps.push(p.fraction) });
    lap('template made');
    const file = t.disks[0]!.file;
    const read = lab.exec('qemu-io', '-r', '-U', '-c', 'read -P 0x5a 0 1M', file);
    assert.equal(read.status, 0, read.stderr);
    assert.doesNotMatch(read.stdout, /Pattern verification failed/, 'the template holds the source data');
    assert.equal(inLab('stat', '-c', '%a', file).trim(), '444', 'read-only');
    assert.equal(t.disks[0]!.virtualSize, 16 * 1024 * 1024);
    assert.ok(steps.length > 0, 'the copy reported its progress');
    assert.deepEqual((await host.listTemplates()).map((x) => x.name), [`${env.prefix}tpl`]);
    noPwned();

    // it deploys there (thin and clone); in use by the thin VM it stays; then everything goes
    await host.deploy({ template: `${env.prefix}tpl`, name: env.vmName('thin'), count: 1, mode: 'thin', start: false });
    lap('listed, thin deployed');
    await host.deploy({ template: `${env.prefix}tpl`, name: env.vmName('full'), count: 1, mode: 'clone', start: false });
    lap('clone deployed');
    await assert.rejects(host.deleteTemplate(`${env.prefix}tpl`), (e) => isKvmopsError(e, 'template-in-use') && (e as Error).message.includes(env.vmName('thin')));
    for (const vm of [env.vmName('thin'), env.vmName('full')]) {
      const r = await host.deleteVm(vm);
      assert.equal(r.removed.length, 2, `${vm}: its disk and its seed (${JSON.stringify(r)})`);
    }
    lap('refused, VMs deleted');
    await host.deleteTemplate(`${env.prefix}tpl`);
    lap('template deleted');
    assert.deepEqual(await host.listTemplates(), []);
    assert.equal(inLab('find', `${lab.storage}/${env.prefix}kv`, '-type', 'f').trim(), '', 'nothing kvmops made is left there');
    assert.ok(hostileStillThere(disk), 'the source disk is untouched');
    noPwned();
  });

  it("ssh's own failure (a key the host does not take) is host-unreachable; a missing program says so", async () => {
    const s = remoteShell(host.ctx)!;
    const badKey = path.join(env.outsideDir, 'not-a-key');
    writeFileSync(badKey, 'nothing\n', { mode: 0o600 });
    await assert.rejects(
      runOverSsh({ ...s, target: { ...s.target, keyfile: badKey } }, CHMOD, chmodArgs.mode('0400', ['/nonexistent']), { timeoutMs: 30_000 }),
      (e) => isKvmopsError(e, 'host-unreachable'),
    );
    await assert.rejects(
      runOverSsh(s, 'kvmops-no-such-program' as typeof CHMOD, chmodArgs.mode('0400', ['/x']), { timeoutMs: 30_000 }),
      (e) => isKvmopsError(e, 'command-failed') && /not installed on host lab/.test((e as Error).message),
    );
  });

  it('a VM name that could hurt is refused before anything runs', async () => {
    for (const name of ["a'b", 'a;b', '$(x)', 'a b', 'a\nb']) {
      await assert.rejects(host.deploy({ template: 'x', name, count: 1, mode: 'thin', start: false }), (e) => isKvmopsError(e, 'invalid-input'), JSON.stringify(name));
    }
  });
});
