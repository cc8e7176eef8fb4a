/**
 * Guests figure (the real-guests issue): a deploy of 4 thin VMs with start, until all four have
 * addresses — against the same four VMs prepared by hand (an overlay of the template's disk, a
 * NoCloud seed made with xorriso, `virsh define`) and started with one `virsh start` each, polled
 * with `domifaddr --source lease` until all four have a lease. Goal ≤ 1.2×.
 *
 * Both run on a lab host (scripts/lab-host.sh) with its NAT guest network: a guest network lives
 * inside a namespace the bench made, never on this machine's libvirtd. Real Debian guests under
 * TCG: each side boots four of them (minutes on two cores); KVMOPS_BENCH_REPS (default 1)
 * alternates more runs. Everything it made goes with the lab at the end.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LibvirtHost } from '../src/hypervisor/host.js';
import { buildGuestImage } from '../test/helpers/guest.js';
import { labUp } from '../test/helpers/lab.js';
import { makeTestEnv } from '../test/helpers/libvirt.js';
import type { BenchResult } from './types.js';

const REPS = Number(process.env.KVMOPS_BENCH_REPS ?? 1);
const COUNT = 4;

export async function benchGuests(): Promise<BenchResult[]> {
  const image = buildGuestImage();
  const env = makeTestEnv('bguest');
  const lab = labUp({ guestNet: true });
  const virsh = (...args: string[]) => {
    const r = spawnSync('virsh', ['-q', '-c', lab.uri, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`virsh ${args.slice(0, 2).join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const inLab = (...argv: string[]) => {
    const r = lab.exec(argv[0]!, ...argv.slice(1));
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const vmXml = (name: string, disk: string, seed?: string) =>
    `<domain type='qemu'><name>${name}</name><uuid>${randomUUID()}</uuid><memory unit='MiB'>768</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type><boot dev='hd'/></os><features><acpi/></features><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
${seed ? `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${seed}'/><target dev='hdc' bus='ide'/><readonly/></disk>` : ''}
<interface type='network'><source network='${lab.guestNet}'/><model type='virtio'/></interface>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
</devices></domain>`;
  try {
    const host = new LibvirtHost({ name: 'lab', uri: lab.uri }, { storageDir: `${lab.storage}/kv`, addressWaitMs: 15 * 60_000 });
    // the template: from a never-booted overlay of the image, in a pool (the remote copy wants a volume)
    const srcDir = `${lab.storage}/src`;
    inLab('mkdir', '-p', srcDir);
    virsh('pool-create-as', `${env.prefix}src`, 'dir', '--target', srcDir);
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', image.path, `${srcDir}/src.qcow2`);
    virsh('pool-refresh', `${env.prefix}src`);
    const srcXml = path.join(env.outsideDir, 'src.xml');
    writeFileSync(srcXml, vmXml(`${env.prefix}src`, `${srcDir}/src.qcow2`));
    virsh('define', srcXml);
    const tpl = await host.createTemplate({ vm: `${env.prefix}src`, name: `${env.prefix}tpl`, seal: false });
    const tplDisk = tpl.disks[0]!.file;

    const ours: number[] = [];
    const floor: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      // kvmops: the deploy with start, then the wait for addresses
      let t0 = performance.now();
      const d = await host.deploy({ template: tpl.name, name: `${env.prefix}k${rep}`, count: COUNT, mode: 'thin', start: true, requestId: `req-bench-${rep}` });
      const waits = await host.waitForAddresses(d.vms);
      ours.push((performance.now() - t0) / 1000);
      const missing = waits.filter((w) => !w.address);
      if (missing.length) throw new Error(`bench guests: no address for ${missing.map((w) => w.vm).join(', ')}`);
      for (const vm of d.vms) virsh('destroy', vm);

      // by hand: overlays, seeds, defines (not timed), then the starts and the lease polls
      const names = Array.from({ length: COUNT }, (_, i) => `${env.prefix}h${rep}-${i}`);
      const handDir = `${lab.storage}/hand${rep}`;
      inLab('mkdir', '-p', handDir);
      for (const n of names) {
        inLab('qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', tplDisk, `${handDir}/${n}.qcow2`);
        const seedDir = path.join(env.outsideDir, n);
        mkdirSync(seedDir, { recursive: true });
        writeFileSync(path.join(seedDir, 'meta-data'), `instance-id: ${randomUUID()}\nlocal-hostname: ${n}\n`);
        writeFileSync(path.join(seedDir, 'user-data'), `#cloud-config\nhostname: ${n}\n`);
        const iso = path.join(env.outsideDir, `${n}.iso`);
        const x = spawnSync('xorriso', ['-as', 'mkisofs', '-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', seedDir], { encoding: 'utf8' });
        if (x.status !== 0) throw new Error(`xorriso: ${x.stderr}`);
        const xml = path.join(env.outsideDir, `${n}.xml`);
        writeFileSync(xml, vmXml(n, `${handDir}/${n}.qcow2`, iso));
        virsh('define', xml);
      }
      t0 = performance.now();
      virsh(names.map((n) => `start ${n}`).join(' ; '));
      for (;;) {
        const out = virsh(names.map((n) => `domifaddr ${n} --source lease`).join(' ; '));
        if ((out.match(/ipv4/g) ?? []).length >= COUNT) break;
        if (performance.now() - t0 > 15 * 60_000) throw new Error('bench guests: the hand-made VMs got no leases in 15 minutes');
        await new Promise((r) => setTimeout(r, 1000));
      }
      floor.push((performance.now() - t0) / 1000);
      for (const n of names) virsh('destroy', n);
      console.error(`bench guests: run ${rep + 1}: kvmops ${ours.at(-1)!.toFixed(1)} s, by hand ${floor.at(-1)!.toFixed(1)} s`);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const v = med(ours);
    const f = med(floor);
    return [
      {
        name: `${COUNT} thin VMs: deploy with start until all have addresses vs ${COUNT} hand-made VMs: virsh start until all have leases`,
        value: v,
        unit: 's',
        floor: f,
        ratio: v / f,
        target: '≤ 1.2 × floor',
        pass: v / f <= 1.2,
      },
    ];
  } finally {
    lab.down();
    env.cleanup();
  }
}
