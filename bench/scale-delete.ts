/**
 * VM delete against the host's size (issue 23: "VM delete independent of the host's size,
 * growth ≤ 1.2×"): at 10 and 300 extra defined domains (each a small qcow2 overlay on the
 * template's disk, defined in one virsh process, removed afterwards), the median time of
 * `deleteVm` of a thin VM
 *
 *  - as a job runs it: the inventory's candidates after a fresh diff (`referrers`, as the worker
 *    wires it), only those re-read on disk;
 *  - as it ran before the inventory (and still does without it): every domain read;
 *
 * each beside `virsh list --all --name` timed in the same run (the floor), and the growth from
 * the smallest to the largest count. The fresh diff a job's question starts (a reconcile pass,
 * no rotation) is timed alone too: it lists the host, so it grows with it as the floor does. `benchVmDeleteScale([10, 500, 3000])` for other counts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../src/domain/logger.js';
import { createHypervisor } from '../src/hypervisor/index.js';
import type { OpContext } from '../src/hypervisor/types.js';
import { Reconciler } from '../src/inventory/reconcile.js';
import { inventoryReferrers } from '../src/inventory/referrers.js';
import { InventoryStore } from '../src/inventory/store.js';
import { openJobStore } from '../src/jobs/store.js';
import { libvirtAvailable, makeTestEnv, patternTemplate, URI, uuidsByName } from '../test/helpers/libvirt.js';
import type { BenchResult } from './types.js';

const REPS = Number(process.env.KVMOPS_BENCH_REPS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = () => performance.now();

/** One virsh process, commands on stdin. */
function virshScript(lines: string[]): void {
  if (lines.length === 0) return;
  const r = spawnSync('virsh', ['--connect', URI], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 || /^error:/m.test(r.stderr)) throw new Error(`virsh script failed: ${r.stderr.slice(0, 500)}`);
}

function listNamesMs(): number {
  const t0 = ms();
  const r = spawnSync('virsh', ['--connect', URI, 'list', '--all', '--name'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(r.stderr);
  return ms() - t0;
}

export async function benchVmDeleteScale(counts: readonly number[] = [10, 300]): Promise<BenchResult[]> {
  if (!libvirtAvailable()) return [];
  const env = makeTestEnv('bscale');
  const dbDir = mkdtempSync(path.join(tmpdir(), 'kvmops-bscale-'));
  const store = openJobStore(path.join(dbDir, 'kvmops.db'));
  const inv = new InventoryStore(store.db);
  const hypervisor = createHypervisor({ hosts: [{ name: 'local', uri: URI }], storageDir: env.storageDir });
  const host = hypervisor.host('local');
  const reconciler = new Reconciler({ hypervisor, store: inv, everyMs: 3_600_000, logger: silentLogger });
  const port = inventoryReferrers(reconciler, inv);
  const withInventory: OpContext = { referrers: (files, o) => port('local', files, o) };
  const out: BenchResult[] = [];
  const extras: string[] = [];
  try {
    const tpl = await patternTemplate(env, host);
    const base = tpl.disks[0]!.file;
    const xmlDir = `${env.outsideDir}/xml`;
    mkdirSync(xmlDir, { recursive: true });
    const figures: Array<{ n: number; inv: number; all: number; floor: number }> = [];
    for (const n of [...counts].sort((a, b) => a - b)) {
      // grow the host to n extra domains, each with its own small overlay on the template disk
      const lines: string[] = [];
      for (let i = extras.length; i < n; i++) {
        const name = env.vmName(`x${String(i).padStart(5, '0')}`);
        const disk = `${env.outsideDir}/x${i}.qcow2`;
        spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, disk]);
        const file = `${xmlDir}/${i}.xml`;
        writeFileSync(
          file,
          `<domain type='qemu'><name>${name}</name><memory unit='MiB'>16</memory><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
        );
        lines.push(`define ${file}`);
        extras.push(name);
      }
      virshScript(lines);
      const vms = (await host.deploy({ template: tpl.name, name: env.vmName(`d${n}`), count: 2 * REPS, mode: 'thin', start: false })).vms;
      await reconciler.refresh('local'); // the import, then the new ones: known before the timed deletes
      const uuids = uuidsByName();
      const invT: number[] = [];
      const allT: number[] = [];
      const floor: number[] = [];
      const diff: number[] = [];
      for (let r = 0; r < REPS; r++) {
        floor.push(listNamesMs());
        const d0 = ms();
        await reconciler.refresh('local', { rotate: false });
        diff.push(ms() - d0);
        const t0inv = ms();
        await host.deleteVm({ vm: vms[2 * r]!, vmUuid: uuids.get(vms[2 * r]!)! }, withInventory);
        invT.push(ms() - t0inv);
        const t0 = ms();
        await host.deleteVm({ vm: vms[2 * r + 1]!, vmUuid: uuids.get(vms[2 * r + 1]!)! });
        allT.push(ms() - t0);
      }
      const f = { n, inv: median(invT), all: median(allT), floor: median(floor) };
      figures.push(f);
      out.push(
        { name: `  of which the fresh diff (a pass with nothing changed), ${n} extra domains`, value: median(diff), unit: 'ms', floor: f.floor, ratio: median(diff) / f.floor },
        { name: `VM delete, candidates from the inventory, ${n} extra domains`, value: f.inv, unit: 'ms', floor: f.floor, ratio: f.inv / f.floor },
        { name: `VM delete, every domain read (no inventory), ${n} extra domains`, value: f.all, unit: 'ms', floor: f.floor, ratio: f.all / f.floor },
      );
    }
    if (figures.length > 1) {
      const [a, b] = [figures[0]!, figures.at(-1)!];
      const growth = b.inv / a.inv;
      out.push(
        { name: `VM delete growth ${a.n} → ${b.n} domains, inventory`, value: growth, unit: '×', ratio: growth, target: '≤ 1.2 ×', pass: growth <= 1.2 },
        { name: `VM delete growth ${a.n} → ${b.n} domains, every domain read`, value: b.all / a.all, unit: '×', ratio: b.all / a.all },
        { name: `virsh list --all --name growth ${a.n} → ${b.n}`, value: b.floor / a.floor, unit: '×', ratio: b.floor / a.floor },
      );
    }
    return out;
  } finally {
    await reconciler.stop();
    store.close();
    env.cleanup();
    rmSync(dbDir, { recursive: true, force: true });
  }
}
