/**
 * Patterns figure (the fleet issue): one `/snapshot create vm:PREFIX-* name:…` over 20 thin VMs,
 * typed into the terminal chat (`npm run shell`: the router, the batch enqueue, the worker, the
 * notifier, a real SQLite file) until every job of the batch has ended — against 20 internal
 * snapshots of the same VMs made by hand, one `virsh snapshot-create-as` process each, in the same
 * run. Goal ≤ 1.5×.
 *
 * The VMs are shut off (an internal snapshot of a running TCG guest costs its RAM state, which
 * is QEMU's time, not ours). The runs alternate kvmops / by hand, KVMOPS_BENCH_REPS times
 * (default 3); the medians are compared. Everything lives under a test env's prefix and goes
 * with it.
 */
import { spawnSync } from 'node:child_process';
import { openJobStore } from '../src/jobs/store.js';
import { goldenShellLab, ShellDriver } from '../test/adapters/shell/driver.js';
import type { BenchResult } from './types.js';

const REPS = Number(process.env.KVMOPS_BENCH_REPS ?? 3);
const COUNT = 20;

function virsh(...args: string[]): string {
  const r = spawnSync('virsh', ['-q', '-c', 'qemu:///system', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`virsh ${args.slice(0, 2).join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchPatterns(): Promise<BenchResult[]> {
  const { lab, db, env } = goldenShellLab('bpat');
  // the worker's per-host concurrency as shipped; nothing else tuned for the bench
  const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator,admin'], { ...env, KVMOPS_RATE_LIMIT: 'off' });
  try {
    await sh.expect(/Type help\./);
    const base = lab.vmName('base');
    const web = lab.vmName('w');
    await sh.say(`/template create vm:${lab.vmName('golden')} name:${base} seal:false`, /@alice: job #\d+ succeeded/, 120_000);
    await sh.say(`/deploy template:${base} name:${web} count:${COUNT} mode:thin`, /@alice: job #\d+ succeeded/, 300_000);
    const vms = Array.from({ length: COUNT }, (_, i) => `${web}-${String(i + 1).padStart(2, '0')}`);

    const ours: number[] = [];
    const floor: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      let t0 = performance.now();
      const m = await sh.say(`/snapshot create vm:${web}-* name:k${rep}`, /Batch #(\d+) queued/, 60_000);
      const lead = Number(m[1]);
      for (;;) {
        const store = openJobStore(db);
        let jobs;
        try {
          jobs = store.batch(lead);
        } finally {
          store.close();
        }
        if (jobs.length === COUNT && jobs.every((j) => j.finishedAt !== null)) {
          const bad = jobs.filter((j) => j.state !== 'succeeded');
          if (bad.length) throw new Error(`bench patterns: ${bad.map((j) => `#${j.id} ${j.state} ${j.error?.message ?? ''}`).join('; ')}`);
          break;
        }
        if (performance.now() - t0 > 600_000) throw new Error(`bench patterns: batch #${lead} did not end in 10 minutes`);
        await new Promise((r) => setTimeout(r, 50));
      }
      ours.push((performance.now() - t0) / 1000);

      t0 = performance.now();
      for (const vm of vms) virsh('snapshot-create-as', vm, `h${rep}`);
      floor.push((performance.now() - t0) / 1000);
      console.error(`bench patterns: run ${rep + 1}: kvmops ${ours.at(-1)!.toFixed(2)} s, by hand ${floor.at(-1)!.toFixed(2)} s`);
    }
    const v = median(ours);
    const f = median(floor);
    return [
      {
        name: `/snapshot create over a pattern of ${COUNT} VMs (chat to batch end) vs ${COUNT} virsh snapshot-create-as`,
        value: v,
        unit: 's',
        floor: f,
        ratio: v / f,
        target: '≤ 1.5 × floor',
        pass: v / f <= 1.5,
      },
    ];
  } finally {
    await sh.quit().catch(() => undefined);
    lab.cleanup();
  }
}
