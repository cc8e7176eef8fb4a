/**
 * `npm run bench`: every figure the issues name, each beside its raw floor from the same run.
 * Suites: `npm run bench -- hypervisor jobs` runs only those. Exit code 0 even when a target is
 * missed (it is a measurement, not a test); the table says PASS/MISS.
 */
import type { BenchResult } from './types.js';

type Suite = () => Promise<BenchResult[]>;

const SUITES: Record<string, () => Promise<Suite>> = {
  hypervisor: async () => (await import('./hypervisor.js')).benchHypervisor,
  jobs: async () => (await import('./jobs.js')).benchJobs,
  'claim-blocked': async () => (await import('./claim-blocked.js')).benchClaimBlocked,
  worker: async () => (await import('./worker.js')).benchWorker,
  discord: async () => (await import('./discord.js')).benchDiscord,
  events: async () => (await import('./events.js')).benchEvents,
  history: async () => (await import('./history.js')).benchHistory,
  scale: async () => (await import('./scale.js')).benchScale,
  guests: async () => (await import('./guests.js')).benchGuests,
  patterns: async () => (await import('./patterns.js')).benchPatterns,
  // VM delete at 10 and 300 extra domains (KVMOPS_BENCH_SCALE=10,500,3000 for others)
  'scale-delete': async () => {
    const { benchVmDeleteScale } = await import('./scale-delete.js');
    const counts = process.env.KVMOPS_BENCH_SCALE?.split(',').map(Number);
    return () => benchVmDeleteScale(counts);
  },
};

function fmt(n: number | undefined, digits = 3): string {
  if (n === undefined || Number.isNaN(n)) return '';
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(digits);
}

function printTable(rows: Array<BenchResult & { suite: string }>): void {
  const header = ['suite', 'figure', 'value', 'unit', 'floor', 'ratio', 'target', 'verdict'];
  const body = rows.map((r) => [
    r.suite,
    r.name,
    fmt(r.value),
    r.unit,
    fmt(r.floor),
    fmt(r.ratio),
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length ? wanted : Object.keys(SUITES);
  const rows: Array<BenchResult & { suite: string }> = [];
  for (const name of names) {
    const load = SUITES[name];
    if (!load) throw new Error(`unknown suite ${name}; have ${Object.keys(SUITES).join(', ')}`);
    console.error(`bench: ${name} …`);
    const results = await (await load())();
    rows.push(...results.map((r) => ({ ...r, suite: name })));
  }
  printTable(rows);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
