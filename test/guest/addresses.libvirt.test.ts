/**
 * Addresses: a start waits (bounded) for each VM's IPv4 and says where it is. The VMs run on a
 * lab host (scripts/lab-host.sh) — its NAT network's bridge and dnsmasq live in the lab's own
 * network namespace, as this machine's rules ask — reached by kvmops as qemu+ssh://.
 *
 * A real Debian guest: a template made from a never-booted overlay of the guest image (so each
 * VM makes its own machine-id at first boot, and with it its own DHCP identity), two thin VMs
 * deployed with start, then `waitForAddresses`: both get a lease from the lab's network, two
 * different addresses; `vmInfo` shows the NIC, its network and the address with its source. Then,
 * from inside the lab's network namespace (the only place that reaches the guest network), an
 * SSH login as `debian` with the key the deploy put in the seeds runs `hostname` and prints each
 * VM's own name (not the profile's `hostname`: the per-VM values win), a key the seeds do not
 * hold is refused, and the profile's `runcmd` left its mark in the guest. And
 * the bounds: a VM that never gets an address (no OS) ends the wait at its timeout as "timeout",
 * one on QEMU's user-mode network only is not waited for, one not running neither, and an abort
 * ends a wait at once with what is known.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { hostnameFor } from '../../src/hypervisor/seed.js';
import { guestImageOrSkip, type GuestImage } from '../helpers/guest.js';
import { defineOnLab, labVirsh } from '../helpers/lab-guest.js';
import { labSkipReason, labUp, type Lab } from '../helpers/lab.js';
import { makeTestEnv, type LibvirtTestEnv } from '../helpers/libvirt.js';

const BOOT_WAIT_MS = 6 * 60_000;
/** From the lease to sshd answering with cloud-init's keys in place. */
const SSH_WAIT_MS = 6 * 60_000;
const MARK = '/var/tmp/kvmops-profile-mark';

describe('addresses of started VMs, on a lab host with a guest network', { skip: labSkipReason() }, () => {
  let lab: Lab;
  let env: LibvirtTestEnv;
  let image: GuestImage | { skip: string };
  let host: LibvirtHost;
  let srcDir: string;
  const remote = (...args: string[]) => labVirsh(lab, ...args);
  /** A domain on the lab: a disk (an overlay of `backing`, or blank) and the given NIC. */
  const defineOn = (name: string, nic: string, backing?: string) =>
    defineOnLab(lab, { name, dir: srcDir, xmlDir: env.outsideDir, nic, ...(backing ? { backing } : {}) });
  const NET_NIC = () => `<interface type='network'><source network='${lab.guestNet}'/><model type='virtio'/></interface>`;

  before(
    () => {
      env = makeTestEnv('addr');
      image = guestImageOrSkip();
      lab = labUp({ guestNet: true });
      srcDir = `${lab.storage}/${env.prefix}src`;
      assert.equal(lab.exec('mkdir', '-p', srcDir).status, 0);
      // the source VM's disk must be a volume for the remote copy (libvirt's vol-create-from)
      remote('pool-create-as', `${env.prefix}src`, 'dir', '--target', srcDir);
      host = new LibvirtHost({ name: 'lab', uri: lab.uri }, { storageDir: `${lab.storage}/kv`, addressWaitMs: BOOT_WAIT_MS });
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

  /** `ssh -i KEY debian@ADDR ARGS…` run inside the lab (its namespace reaches the guest network). */
  const sshAs = (key: string, addr: string, ...args: string[]) =>
    lab.exec(
      'ssh',
      '-i', key,
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'ConnectTimeout=10',
      '-o', 'LogLevel=ERROR',
      `debian@${addr}`,
      ...args,
    );
  /** A fresh key pair in a folder the lab sees too (only /run, /tmp and /var/log are its own). */
  const newKeyPair = (name: string) => {
    const file = path.join(env.outsideDir, name);
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { file, line: readFileSync(`${file}.pub`, 'utf8').trim() };
  };

  it('two VMs deployed with start from a real guest get their own leases; vmInfo shows the NIC, network and address; SSH login with the seed\'s key; the profile ran', { timeout: 20 * 60_000 }, async (t) => {
    if ('skip' in image) return t.skip(image.skip);
    const src = `${env.prefix}src`;
    defineOn(src, NET_NIC(), image.path);
    remote('pool-refresh', `${env.prefix}src`);
    await host.createTemplate({ vm: src, name: `${env.prefix}deb`, seal: false });
    const key = newKeyPair('id_guest');
    const stranger = newKeyPair('id_stranger');
    const profile = { hostname: 'from-the-profile', runcmd: [['sh', '-c', `echo "profile ran on $(hostname)" > ${MARK}`]] };
    const d = await host.deploy({
      template: `${env.prefix}deb`,
      name: `${env.prefix}web`,
      count: 2,
      mode: 'thin',
      start: true,
      requestId: 'req-addr-test',
      sshKeys: [key.line],
      userData: profile,
    });
    assert.equal(d.started, true);
    const steps: string[] = [];
    const t0 = Date.now();
    const waits = await host.waitForAddresses(d.vms, { onProgress: (p) => steps.push(p.step) });
    const seconds = Math.round((Date.now() - t0) / 1000);
    t.diagnostic(`both addresses after ${seconds} s: ${waits.map((w) => `${w.vm} ${w.address?.address ?? w.missing}`).join(', ')}`);
    const subnet = lab.guestSubnet!.replace(/\.0\/24$/, '.');
    for (const w of waits) {
      assert.equal(w.missing, undefined, `${w.vm}: ${w.missing}`);
      assert.ok(w.address!.address.startsWith(subnet), `${w.vm} ${w.address!.address} in ${lab.guestSubnet}`);
      assert.equal(w.address!.source, 'lease');
    }
    assert.notEqual(waits[0]!.address!.address, waits[1]!.address!.address, 'two machines, two leases');
    assert.equal(steps[0], 'waiting for addresses 0/2');
    assert.equal(steps.at(-1), 'waiting for addresses 2/2');

    const info = await host.vmInfo(d.vms[0]!);
    assert.equal(info.nics.length, 1);
    assert.equal(info.nics[0]!.type, 'network');
    assert.equal(info.nics[0]!.network, lab.guestNet);
    assert.deepEqual(
      info.nics[0]!.addresses.filter((a) => a.protocol === 'ipv4').map((a) => [a.address, a.source]),
      [[waits[0]!.address!.address, 'lease']],
    );

    // SSH: sshd answers once cloud-init has put the keys in place (and made host keys)
    for (const [i, vm] of d.vms.entries()) {
      const addr = waits[i]!.address!.address;
      const t1 = Date.now();
      let r = sshAs(key.file, addr, 'hostname');
      while (r.status !== 0 && Date.now() - t1 < SSH_WAIT_MS) {
        await sleep(3000);
        r = sshAs(key.file, addr, 'hostname');
      }
      assert.equal(r.status, 0, `ssh debian@${addr} (${vm}) within ${SSH_WAIT_MS / 1000} s: ${r.stderr}`);
      assert.equal(r.stdout.trim(), hostnameFor(vm), `${vm} says its own name over SSH`);
      t.diagnostic(`${vm}: ssh debian@${addr} hostname → ${r.stdout.trim()} (${Math.round((Date.now() - t1) / 1000)} s after its lease)`);

      const refused = sshAs(stranger.file, addr, 'hostname');
      assert.equal(refused.status, 255, `a key the seed does not hold is refused: ${refused.stdout}`);
      assert.match(refused.stderr, /Permission denied/);

      // the profile's runcmd runs in cloud-init's last stage: wait for it, then read its mark
      const mark = sshAs(key.file, addr, `cloud-init status --wait >/dev/null; cat ${MARK}`);
      assert.equal(mark.status, 0, `${vm}: ${mark.stderr}`);
      assert.equal(mark.stdout.trim(), `profile ran on ${hostnameFor(vm)}`);
    }
  });

  it('the wait is bounded: no OS → "timeout" at its bound; user-mode network only and not running → not waited for; an abort ends it', async () => {
    const blank = `${env.prefix}blank`;
    const userNet = `${env.prefix}usernet`;
    const off = `${env.prefix}off`;
    defineOn(blank, NET_NIC());
    defineOn(userNet, `<interface type='user'><model type='virtio'/></interface>`);
    defineOn(off, NET_NIC());
    await host.startVm(blank);
    await host.startVm(userNet);

    let t0 = Date.now();
    const waits = await host.waitForAddresses([blank, userNet, off], { timeoutMs: 4000 });
    const took = Date.now() - t0;
    assert.deepEqual(
      waits.map((w) => [w.vm, w.missing]),
      [
        [blank, 'timeout'],
        [userNet, 'no-network'],
        [off, 'not-running'],
      ],
    );
    assert.ok(took >= 2000 && took < 15_000, `bounded by its timeout (${took} ms)`);

    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    t0 = Date.now();
    const aborted = await host.waitForAddresses([blank], { timeoutMs: 120_000, signal: ac.signal });
    assert.equal(aborted[0]!.missing, 'timeout');
    assert.ok(Date.now() - t0 < 10_000, 'an abort ends the wait at once');
  });
});
