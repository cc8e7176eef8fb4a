/**
 * Scale figures (the "answers that don't grow with the host" issue): what a chat user waits for
 * on a host with many domains, each beside `virsh list --all --name` taken in the same run.
 *
 * At each size (SCALE_SIZES, default 10,500,3000: extra domains, cheap `virsh define`s of small
 * qcow2 overlays on one base file, in one virsh process per 250; the sizes grow the same set),
 * from the chat — the real discord.js Client against the Discord API emulator, the real store,
 * worker, inventory and hypervisor layer (test/adapters/discord/world.ts):
 *  - template autocomplete cold (right after a restart of the bot) and warm (p99 of 20), and
 *    whether any answer came back without the template;
 *  - `/template list`, `/deploy` (its reply with the job id), `/vm list` first page: dispatch →
 *    the answer's final text;
 *  - VM delete: the job's run time (claimed → finished) of one thin VM;
 *  - reconcile with nothing changed (median of 5): the diff alone (`refresh(host, {rotate:false})`,
 *    what a destructive step waits for) and a timer's pass (the diff and its rotation of 25 whole
 *    reads); and with 10 domains renamed behind kvmops' back.
 * Then the growth of each from the middle size to the largest.
 *
 * Every domain and file it makes is removed at the end (by its name prefix; test/helpers).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { percentile } from '../src/worker/latency.js';
import { createDisk, defineVm } from '../test/helpers/libvirt.js';
import { run } from '../test/adapters/discord/helpers.js';
import { DiscordWorld, USER } from '../test/adapters/discord/world.js';
import type { BenchResult } from './types.js';

const SIZES = (process.env.SCALE_SIZES ?? '10,500,3000').split(',').map(Number);
const WARM = 20;

function virshBatch(cmds: string[]): void {
  for (let i = 0; i < cmds.length; i += 250) {
    const r = spawnSync('virsh', ['--connect', 'qemu:///system', cmds.slice(i, i + 250).join(' ; ')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`virsh batch: ${r.stderr}`);
  }
}

/** Median wall time of `virsh list --all --name` (the floor every figure is set against). */
function listFloor(extra: string[] = []): number {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    spawnSync('virsh', ['--connect', 'qemu:///system', 'list', '--all', '--name', ...extra]);
    xs.push(performance.now() - t);
  }
  return percentile(xs, 0.5);
}

const median = (xs: number[]) => percentile(xs, 0.5);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [performance.now() - t, v];
}

interface Figures {
  size: number;
  floor: number;
  floorUuid: number;
  coldAc: number;
  coldEmpty: boolean;
  warmAc: number;
  warmEmpty: number;
  templateList: number;
  deployReply: number;
  vmList: number;
  vmDelete: number;
  reconcile: number;
  reconcileRotating: number;
  reconcile10: number;
}

export async function benchScale(): Promise<BenchResult[]> {
  const w = new DiscordWorld('scale');
  const figures: Figures[] = [];
  let made = 0;
  const base = createDisk(path.join(w.lab.outsideDir, 'base.qcow2'), { sizeMiB: 16 });
  const overlay = createDisk(path.join(w.lab.outsideDir, 'overlay.qcow2'), { backing: base });
  try {
    const src = w.lab.vmName('src');
    defineVm(src, [createDisk(path.join(w.lab.outsideDir, 'src.qcow2'))]);
    await w.start();
    const tpl = w.lab.vmName('tpl');
    const t = await run(w, USER.root, 'template', 'create', { vm: src, name: tpl, seal: false });
    if ((await w.finished(t.jobId!)).state !== 'succeeded') throw new Error('bench scale: template create failed');

    for (const size of SIZES) {
      // grow the set of extra domains to `size`
      const cmds: string[] = [];
      for (; made < size; made++) {
        const disk = path.join(w.lab.outsideDir, `x${made}.qcow2`);
        copyFileSync(overlay, disk);
        const xml = path.join(w.lab.outsideDir, `x${made}.xml`);
        writeFileSync(
          xml,
          `<domain type='qemu'><name>${w.lab.vmName(`x${String(made).padStart(5, '0')}`)}</name><uuid>${randomUUID()}</uuid><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
        );
        cmds.push(`define ${xml}`);
      }
      virshBatch(cmds);
      console.error(`bench scale: ${size} extra domains defined`);

      // the bot as after a restart: its inventory catches up in the background
      await w.restart();
      const [coldAc, cold] = await timed(() => w.emulator.sendAutocomplete({ user: USER.alice, name: 'deploy', options: { template: '' }, focused: 'template' }, 10_000));
      // let the reconcile see the new domains before the warm figures
      await w.bot.core.reconciler.reconcileNow();
      const warm: number[] = [];
      let warmEmpty = 0;
      for (let i = 0; i < WARM; i++) {
        const [ms, choices] = await timed(() => w.emulator.sendAutocomplete({ user: USER.alice, name: 'deploy', options: { template: tpl.slice(0, 4) }, focused: 'template' }, 10_000));
        warm.push(ms);
        if (!choices.some((c) => c.value === tpl)) warmEmpty++;
      }
      const [templateList] = await timed(() => run(w, USER.alice, 'template', 'list', {}));
      const vmName = w.lab.vmName(`d${size}`);
      const [deployReply, dep] = await timed(() => run(w, USER.alice, 'deploy', undefined, { template: tpl, name: vmName, mode: 'thin' }));
      if ((await w.finished(dep.jobId!)).state !== 'succeeded') throw new Error('bench scale: deploy failed');
      const [vmList] = await timed(() => run(w, USER.alice, 'vm', 'list', {}));

      const del = await run(w, USER.alice, 'vm', 'delete', { vm: vmName });
      await w.bot.core.services.approvals.decide(del.jobId!, 'approve', { id: USER.bob, name: 'bob' });
      const deleted = await w.finished(del.jobId!, 300_000);
      if (deleted.state !== 'succeeded') throw new Error(`bench scale: vm delete ${deleted.state}: ${JSON.stringify(deleted.error)}`);
      const vmDelete = deleted.finishedAt! - deleted.startedAt!;

      // the diff alone (what a destructive step waits for) and a timer's pass (the diff and its
      // rotation: the 25 rows read longest ago read whole again)
      const passes: number[] = [];
      const rotating: number[] = [];
      for (let i = 0; i < 5; i++) {
        passes.push((await timed(() => w.bot.core.reconciler.refresh('local', { rotate: false })))[0]);
        rotating.push((await timed(() => w.bot.core.reconciler.pass('local')))[0]);
      }
      const renames = Array.from({ length: Math.min(10, size) }, (_, i) => {
        const n = w.lab.vmName(`x${String(i).padStart(5, '0')}`);
        return `domrename ${n} ${n}r`;
      });
      virshBatch(renames);
      const [reconcile10] = await timed(() => w.bot.core.reconciler.pass('local'));
      virshBatch(renames.map((c) => c.replace(/^domrename (\S+) (\S+)$/, 'domrename $2 $1')));

      figures.push({
        size,
        floor: listFloor(),
        floorUuid: listFloor(['--uuid']),
        coldAc,
        coldEmpty: !cold.some((c) => c.value === tpl),
        warmAc: percentile(warm, 0.99),
        warmEmpty,
        templateList,
        deployReply,
        vmList,
        vmDelete,
        reconcile: median(passes),
        reconcileRotating: median(rotating),
        reconcile10,
      });
    }
  } finally {
    await w.close();
  }
  return report(figures);
}

function report(figures: Figures[]): BenchResult[] {
  const out: BenchResult[] = [];
  for (const f of figures) {
    const at = `${f.size} domains`;
    const row = (name: string, value: number, target?: { max: number; text: string }): BenchResult => ({
      name: `${at}: ${name}`,
      value,
      unit: 'ms',
      floor: f.floor,
      ratio: value / f.floor,
      ...(target ? { target: target.text, pass: value <= target.max } : {}),
    });
    const big = f.size >= 3000;
    out.push(
      { name: `${at}: virsh list --all --name (floor)`, value: f.floor, unit: 'ms' },
      row(`template autocomplete cold${f.coldEmpty ? ' (EMPTY)' : ''}`, f.coldAc, big ? { max: 300, text: '≤ 300 ms' } : undefined),
      { ...row(`template autocomplete warm p99 (${WARM}; ${f.warmEmpty} empty)`, f.warmAc, big ? { max: 300, text: '≤ 300 ms' } : undefined) },
      row('/template list', f.templateList, big ? { max: 300, text: '≤ 300 ms' } : undefined),
      row('/deploy reply', f.deployReply, big ? { max: 1000, text: '≤ 1 s' } : undefined),
      row('/vm list first page', f.vmList),
      row('VM delete (job run)', f.vmDelete),
      { name: `${at}: reconcile diff, nothing changed`, value: f.reconcile, unit: 'ms', floor: f.floorUuid, ratio: f.reconcile / f.floorUuid, target: '≤ 2 × list --uuid --name', pass: f.reconcile <= 2 * f.floorUuid },
      { name: `${at}: timer's pass, nothing changed (diff + 25 rotated)`, value: f.reconcileRotating, unit: 'ms', floor: f.floorUuid, ratio: f.reconcileRotating / f.floorUuid },
      { name: `${at}: reconcile, 10 renamed`, value: f.reconcile10, unit: 'ms', floor: f.floorUuid, ratio: f.reconcile10 / f.floorUuid },
    );
  }
  const [mid, top] = figures.length >= 2 ? [figures[figures.length - 2]!, figures[figures.length - 1]!] : [];
  if (mid && top) {
    const grow = (name: string, a: number, b: number, max?: number): BenchResult => ({
      name: `growth ${mid.size} → ${top.size}: ${name}`,
      value: b / a,
      unit: '×',
      ...(max !== undefined ? { target: `≤ ${max}×`, pass: b / a <= max } : {}),
    });
    out.push(
      grow('virsh list --all --name (floor)', mid.floor, top.floor),
      grow('template autocomplete warm p99', mid.warmAc, top.warmAc),
      grow('/template list', mid.templateList, top.templateList),
      grow('/deploy reply', mid.deployReply, top.deployReply),
      grow('/vm list first page', mid.vmList, top.vmList),
      grow('VM delete', mid.vmDelete, top.vmDelete, 1.2),
      grow('reconcile diff, nothing changed', mid.reconcile, top.reconcile),
    );
  }
  return out;
}
