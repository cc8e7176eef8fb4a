/**
 * Sealing on a remote host: `createTemplate` with `seal: true` on a lab host (qemu+ssh://) runs
 * virt-sysprep THERE, over the host's ssh transport, on the template's disk in the lab's own
 * storage dir. The source is a real Debian guest given what a booted guest carries (a
 * machine-id, SSH host keys, cloud-init instance state); the sealed template's disk, read inside
 * the lab with guestfish, has an empty machine-id, no host keys, no cloud-init state, and the
 * drop-in that makes host keys at first boot. A virt-sysprep the remote host does not have is a
 * `sysprep-unavailable` before anything is copied.
 *
 * Before this, a seal on a remote host was refused outright (`sysprep-unavailable`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { HOST_KEYS_DROPIN } from '../../src/hypervisor/sysprep-args.js';
import { guestImageOrSkip, type GuestImage } from '../helpers/guest.js';
import { defineOnLab, guestfsSkipReason, labGuestfs, labVirsh } from '../helpers/lab-guest.js';
import { labSkipReason, labUp, type Lab } from '../helpers/lab.js';
import { hasCode, makeTestEnv, type LibvirtTestEnv } from '../helpers/libvirt.js';

const MACHINE_ID = '0123456789abcdef0123456789abcdef';

/** guestfish commands (command-line form, `:`-separated) that print what a seal must remove. */
const CHECK = [
  'echo', '@machine-id', ':', 'cat', '/etc/machine-id', ':',
  'echo', '@host-keys', ':', 'glob-expand', '/etc/ssh/ssh_host_*', ':',
  'echo', '@cloud', ':', 'ls', '/var/lib/cloud', ':',
  'echo', '@dropin', ':', 'exists', HOST_KEYS_DROPIN,
];

/** guestfish's output of CHECK → section → its lines. */
function sections(stdout: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let cur = '';
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@')) out[(cur = line.slice(1))] = [];
    else if (cur && line.trim()) out[cur]!.push(line.trim());
  }
  return out;
}

describe('sealing on a remote (lab) host, over ssh', { skip: labSkipReason() || guestfsSkipReason() }, () => {
  let lab: Lab;
  let env: LibvirtTestEnv;
  let image: GuestImage | { skip: string };
  let srcDir: string;
  const storageDir = () => `${lab.storage}/kv`;
  before(
    () => {
      env = makeTestEnv('rseal');
      image = guestImageOrSkip();
      lab = labUp();
      srcDir = `${lab.storage}/${env.prefix}src`;
      assert.equal(lab.exec('mkdir', '-p', srcDir).status, 0);
      // the source VM's disk must be a volume for the remote copy (libvirt's vol-create-from)
      labVirsh(lab, 'pool-create-as', `${env.prefix}src`, 'dir', '--target', srcDir);
    },
    { timeout: 20 * 60_000 },
  );
  after(() => {
    try {
      lab?.down();
    } finally {
      env?.cleanup();
    }
  });

  it('virt-sysprep missing on the remote host: sysprep-unavailable, nothing copied', async () => {
    const src = `${env.prefix}nosys`;
    defineOnLab(lab, { name: src, dir: srcDir, xmlDir: env.outsideDir });
    labVirsh(lab, 'pool-refresh', `${env.prefix}src`);
    const host = new LibvirtHost({ name: 'lab', uri: lab.uri }, { storageDir: storageDir(), sysprep: { program: 'virt-sysprep-kvmops-absent' } });
    await assert.rejects(host.createTemplate({ vm: src, name: `${env.prefix}nosys`, seal: true }), (e: unknown) => {
      assert.ok(hasCode('sysprep-unavailable')(e), String(e));
      assert.match((e as Error).message, /virt-sysprep-kvmops-absent is not installed on host lab/);
      return true;
    });
    const files = lab.exec('find', lab.storage, '-name', `${env.prefix}nosys*`);
    assert.equal(files.stdout.split('\n').filter((l) => l && !l.startsWith(srcDir)).length, 0, `no template file: ${files.stdout}`);
  });

  it('seal:true on the lab: the template disk has no machine-id, no host keys, no cloud-init state', { timeout: 25 * 60_000 }, async (t) => {
    if ('skip' in image) return t.skip(image.skip);
    const src = `${env.prefix}src`;
    const disk = defineOnLab(lab, { name: src, dir: srcDir, xmlDir: env.outsideDir, backing: image.path });
    labVirsh(lab, 'pool-refresh', `${env.prefix}src`);

    // what a booted guest carries of its own, planted in the source — and read back by the same check
    let t0 = Date.now();
    const planted = labGuestfs(lab, 'guestfish', '--format=qcow2', '-a', disk, '-i', '--',
      'write', '/etc/machine-id', MACHINE_ID, ':',
      'write', '/etc/ssh/ssh_host_ed25519_key', 'secret', ':',
      'write', '/etc/ssh/ssh_host_ed25519_key.pub', 'ssh-ed25519 AAAAsrc root@src', ':',
      'mkdir-p', '/var/lib/cloud/instances/iid-src', ':',
      'write', '/var/lib/cloud/instances/iid-src/obj.pkl', 'state', ':',
      ...CHECK);
    assert.equal(planted.status, 0, planted.stderr);
    const before = sections(planted.stdout);
    t.diagnostic(`source state planted and read in ${Math.round((Date.now() - t0) / 1000)} s`);
    assert.deepEqual(before['machine-id'], [MACHINE_ID]);
    assert.deepEqual(before['host-keys'], ['/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ed25519_key.pub']);
    assert.deepEqual(before.cloud, ['instances']);
    assert.deepEqual(before.dropin, ['false']);

    const host = new LibvirtHost({ name: 'lab', uri: lab.uri }, { storageDir: storageDir() });
    const steps: string[] = [];
    t0 = Date.now();
    const tpl = await host.createTemplate({ vm: src, name: `${env.prefix}sealed`, seal: true }, { onProgress: (p) => steps.push(p.step) });
    t.diagnostic(`template made and sealed on the lab in ${Math.round((Date.now() - t0) / 1000)} s`);
    assert.equal(tpl.sealed, true);
    assert.ok(steps.some((s) => /^sealing: .*Performing "/.test(s)), `virt-sysprep's lines came back over ssh: ${steps.slice(0, 8).join(' | ')}`);
    const file = tpl.disks[0]!.file;
    assert.ok(file.startsWith(`${storageDir()}/templates/`), file);

    t0 = Date.now();
    const read = labGuestfs(lab, 'guestfish', '--ro', '--format=qcow2', '-a', file, '-i', '--', ...CHECK);
    assert.equal(read.status, 0, read.stderr);
    const after = sections(read.stdout);
    t.diagnostic(`sealed disk read in ${Math.round((Date.now() - t0) / 1000)} s: ${JSON.stringify(after)}`);
    assert.deepEqual(after['machine-id'], [], 'the machine-id is empty: each VM makes its own at first boot');
    assert.deepEqual(after['host-keys'], [], 'no SSH host keys');
    assert.deepEqual(after.cloud, [], 'no cloud-init state');
    assert.deepEqual(after.dropin, ['true'], 'the drop-in that makes host keys before sshd');
    // the source itself is untouched
    const srcAgain = labGuestfs(lab, 'guestfish', '--ro', '--format=qcow2', '-a', disk, '-i', '--', ...CHECK);
    assert.deepEqual(sections(srcAgain.stdout)['machine-id'], [MACHINE_ID]);
  });
});
