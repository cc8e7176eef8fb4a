import type { Job } from '../jobs/types.js';
import type { ReplyPage } from './types.js';
import type { InventoryVm, SnapshotInfo, TemplateInfo, VmInfo, VmNic, VmState } from '../hypervisor/types.js';
import { cut } from '../domain/text.js';
import { moment, person } from './people.js';
import { describeJob } from '../kinds/index.js';
import { formatDuration, formatTime } from '../domain/duration.js';

export { describeJob, formatDuration, formatTime };

/**
 * Chat-neutral rendering: plain text lines that read well in a terminal and in a Discord
 * message alike. Adapters may wrap tables in a code block; nothing here knows markdown. People
 * are written as `person(…)` markers, which each adapter draws its way (src/chat/people.ts).
 */


/** 1536 MiB etc. from bytes. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** One line per job: "#12 running  deploy web (thin) from golden on local · alice · 1m 5s". */
export function jobLine(job: Job, now: number): string {
  const started = job.startedAt ?? job.createdAt;
  const end = job.finishedAt ?? now;
  const pct = job.state === 'running' && job.progress?.fraction !== undefined ? ` ${Math.round(job.progress.fraction * 100)}%` : '';
  return `#${job.id} ${job.state}${pct} · ${describeJob(job)} · ${person(job.requester)} · ${formatDuration(end - started)}`;
}

/** The detail of one job for `/job status`. */
export function jobDetail(job: Job, now: number): string[] {
  const lines = [`${describeJob(job)}`, `state: ${job.state}${job.cancelRequested && job.state === 'running' ? ' (stop requested)' : ''}`];
  if (job.progress) {
    const f = job.progress.fraction;
    lines.push(`progress: ${job.progress.step}${f !== undefined ? ` (${Math.round(f * 100)}%)` : ''}`);
  }
  lines.push(`requested by ${person(job.requester)} at ${moment(job.createdAt)}`);
  if (job.startedAt !== null) lines.push(`started: ${moment(job.startedAt)}`);
  if (job.finishedAt !== null) {
    lines.push(`finished: ${moment(job.finishedAt)} (took ${formatDuration(job.finishedAt - (job.startedAt ?? job.createdAt))})`);
  } else if (job.startedAt !== null) {
    lines.push(`running for ${formatDuration(now - job.startedAt)}`);
  }
  if (job.attempts > 1) lines.push(`attempts: ${job.attempts} of ${job.maxAttempts}`);
  if (job.error) lines.push(`error: ${job.error.code}: ${job.error.message}`);
  if (job.result !== null && job.result !== undefined) lines.push(`result: ${summarizeResult(job.result)}`);
  return lines;
}

/**
 * A batch in `/job status` of any of its jobs: how many are in each state, then a line per job
 * (its VM, its state, and for a failed or cancelled one why), so the batch's result says which
 * VMs failed and why. The states in the order a batch moves through them.
 */
export function batchLines(jobs: Job[]): string[] {
  const lead = jobs[0];
  if (!lead) return [];
  const order = ['succeeded', 'failed', 'cancelled', 'running', 'queued', 'awaiting_approval'] as const;
  const counts = order.map((st) => [st, jobs.filter((j) => j.state === st).length] as const).filter(([, n]) => n > 0);
  const finished = jobs.filter((j) => j.finishedAt !== null).length;
  return [
    `batch #${lead.batchId ?? lead.id}: ${jobs.length} job${jobs.length === 1 ? '' : 's'}, ${finished} ended — ${counts.map(([st, n]) => `${n} ${st.replace('_', ' ')}`).join(', ')}`,
    ...jobs.map((j) => {
      const vm = typeof j.payload.vm === 'string' ? j.payload.vm : describeJob(j);
      const why = j.error && (j.state === 'failed' || j.state === 'cancelled') ? ` — ${j.error.code}: ${cut(j.error.message, 200)}` : '';
      return `  #${j.id} ${vm}: ${j.state}${why}`;
    }),
  ];
}

function summarizeResult(result: unknown): string {
  if (typeof result !== 'object' || result === null) return String(result);
  const r = result as Record<string, unknown>;
  if (Array.isArray(r.vms)) return `VMs ${(r.vms as unknown[]).join(', ')}${r.started ? ' (started)' : ''}`;
  const s = JSON.stringify(result);
  return cut(s, 300);
}

/** Left-aligned columns. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

export function vmInfoLines(info: VmInfo): string[] {
  const lines = [
    `state: ${info.state}`,
    `uuid: ${info.uuid}`,
    `vCPUs: ${info.vcpus}, memory: ${formatBytes(info.memoryKiB * 1024)}`,
  ];
  if (info.deployedFrom) lines.push(`deployed from template ${info.deployedFrom.template} (${info.deployedFrom.mode})`);
  for (const d of info.disks) {
    const backing = d.chain.length > 1 ? ` ← ${d.chain.slice(1).map((c) => c.file).join(' ← ')}` : '';
    lines.push(`disk ${d.target}: ${d.file} (${d.format})${backing}`);
  }
  lines.push(...(info.snapshots.length ? ['snapshots:', ...snapshotTree(info.snapshots).map((l) => `  ${l}`)] : ['snapshots: none']));
  lines.push(...nicLines(info.nics, info.state === 'running'));
  return lines;
}

/**
 * Snapshots as a tree, children indented under their parent, oldest first:
 *   base (internal, shutoff)
 *     before-upgrade (internal, running) ← current
 */
export function snapshotTree(snaps: SnapshotInfo[]): string[] {
  if (snaps.length === 0) return ['(no snapshots)'];
  return tree(snaps, (s) => `${s.name} (${s.kind}, ${s.state})${s.current ? ' ← current' : ''}${s.description ? ` — ${s.description}` : ''}`);
}

/** Items with a parent by name as an indented tree, oldest first; `label` draws one. */
function tree<T extends { name: string; parent: string | null; createdAt: number }>(items: readonly T[], label: (item: T) => string): string[] {
  const names = new Set(items.map((s) => s.name));
  const children = new Map<string | null, T[]>();
  for (const s of items) {
    // A parent we do not see (should not happen) makes the snapshot a root rather than lost.
    const parent = s.parent !== null && names.has(s.parent) ? s.parent : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    const kids = [...(children.get(parent) ?? [])].sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name));
    for (const s of kids) {
      if (seen.has(s.name)) continue; // a cycle in bad data must not loop
      seen.add(s.name);
      out.push(`${'  '.repeat(depth)}${label(s)}`);
      walk(s.name, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

/** Templates per `/template list` page: a row each, so 25 stay well inside one embed with long names. */
export const TEMPLATE_PAGE = 25;
/** Lines per `/snapshot list` page: the tree's lines (one per snapshot, in tree order). */
export const SNAPSHOT_PAGE = 50;

/** "(nothing past 130: the list is shorter now)": a Next clicked after the list shrank. */
const pastTheEnd = (total: number): string => `(nothing past ${count(total)}: the list is shorter now)`;

/**
 * A page of a list already drawn as lines (a tree's, whose order is the drawing's): the lines
 * from `offset`, at most `limit`, then "showing 51–100 of 130" when cut.
 */
export function pageOfLines(lines: readonly string[], offset: number, limit: number): { lines: string[]; page: ReplyPage } {
  const page: ReplyPage = { offset, limit, total: lines.length };
  const shown = lines.slice(offset, offset + limit);
  if (shown.length === 0 && lines.length > 0) return { lines: [pastTheEnd(lines.length)], page };
  const showing = showingLine(page, shown.length);
  return { lines: [...shown, ...(showing ? [showing] : [])], page };
}

/**
 * `/template list`: a row per template in name order, TEMPLATE_PAGE of them from `offset`, under
 * the column titles (each page's widths its own: a long name on page 3 does not widen page 1).
 */
export function templatePage(templates: readonly TemplateInfo[], offset: number): { lines: string[]; page: ReplyPage } {
  const sorted = [...templates].sort((a, b) => a.name.localeCompare(b.name));
  const page: ReplyPage = { offset, limit: TEMPLATE_PAGE, total: sorted.length };
  if (sorted.length === 0) return { lines: ['(no templates)'], page };
  const shown = sorted.slice(offset, offset + TEMPLATE_PAGE);
  if (shown.length === 0) return { lines: [pastTheEnd(sorted.length)], page };
  const showing = showingLine(page, shown.length);
  return { lines: [...templateList(shown), ...(showing ? [showing] : [])], page };
}

export function templateList(templates: TemplateInfo[]): string[] {
  if (templates.length === 0) return ['(no templates)'];
  const sorted = [...templates].sort((a, b) => a.name.localeCompare(b.name));
  // CLOUD-INIT: whether a deploy's seed (hostname, keys, profile) is applied in its VMs
  return table(
    ['TEMPLATE', 'FROM', 'SEALED', 'CLOUD-INIT', 'SIZE', 'THIN VMs'],
    sorted.map((t) => [
      t.name,
      t.sourceVm,
      t.sealed ? 'yes' : 'no',
      t.cloudInit,
      formatBytes(t.disks.reduce((n, d) => n + d.actualSize, 0)),
      t.dependents.length ? `${t.dependents.length} (${t.dependents.slice(0, 5).join(', ')}${t.dependents.length > 5 ? ', …' : ''})` : '0',
    ]),
  );
}

/** "1,200": counts as people read them. */
export const count = (n: number): string => n.toLocaleString('en-US');

/**
 * "showing 21–40 of 1,234" under a page of a longer list ("of more than 10,000" when the count
 * stopped at its cap); nothing when the page is the whole list.
 */
export function showingLine(page: { offset: number; total: number; capped?: boolean }, shown: number): string | undefined {
  if (shown === 0 || (page.offset === 0 && shown >= page.total && !page.capped)) return undefined;
  return `showing ${count(page.offset + 1)}–${count(page.offset + shown)} of ${page.capped ? 'more than ' : ''}${count(page.total)}`;
}

/**
 * One page of `/vm list`: the table (VMs in the order given: name order), then "showing 51–100
 * of 3,000" when the list is cut. An empty page says whether nothing matched or the page is past
 * the end (a Next clicked after VMs were deleted).
 */
export function vmPageLines(vms: ReadonlyArray<{ name: string; state: VmState }>, page: { offset: number; total: number }, filter?: string): string[] {
  if (vms.length === 0) {
    if (page.total === 0) return [filter ? `(no VMs match "${filter}")` : '(no VMs)'];
    return [`(no VMs past ${count(page.total)}: the list is shorter now)`];
  }
  const lines = table(['VM', 'STATE'], vms.map((v) => [v.name, v.state]));
  const showing = showingLine(page, vms.length);
  if (showing) lines.push(showing);
  return lines;
}

/**
 * `/vm info` from the inventory: state, uuid, each disk with its backing chain and the template
 * a thin disk hangs on (or why its chain is unknown), and the snapshots as a tree.
 */
/**
 * A VM's NICs: `nic 52:54:00:7d:de:7a (network kvmops-lab): 198.19.1.89/24 (lease)`. Addresses
 * come with where they were learnt (libvirt's lease, the guest agent, ARP).
 */
export function nicLines(nics: readonly VmNic[], running: boolean): string[] {
  if (nics.length === 0) return ['network interfaces: none'];
  return nics.map((n) => {
    const on = n.network !== null ? `${n.type} ${n.network}` : n.type === 'user' ? "QEMU's user-mode network" : n.type;
    const addresses = n.addresses.map((a) => `${a.address}/${a.prefix} (${a.source})`).join(', ');
    return `nic ${n.mac ?? '(no MAC)'} (${on})${running ? `: ${addresses || 'no address known'}` : ''}`;
  });
}

export function inventoryVmLines(vm: Pick<InventoryVm, 'uuid' | 'name' | 'state' | 'disks' | 'snapshots'>): string[] {
  const lines = [`state: ${vm.state}`, `uuid: ${vm.uuid}`];
  for (const d of vm.disks) {
    const backing = d.chain.length > 1 ? ` ← ${d.chain.slice(1).join(' ← ')}` : '';
    const template = d.template !== null ? ` — thin on template ${d.template}` : '';
    const unknown = d.unreadable !== undefined ? ` — chain unknown: ${d.unreadable}` : '';
    lines.push(`disk ${d.target}: ${d.file} (${d.format})${backing}${template}${unknown}`);
  }
  if (vm.disks.length === 0) lines.push('disks: none');
  const snaps = tree(vm.snapshots, (s) => `${s.name} (${s.kind})${s.files.length ? ` — owns ${s.files.join(', ')}` : ''}`);
  lines.push(...(snaps.length ? ['snapshots:', ...snaps.map((l) => `  ${l}`)] : ['snapshots: none']));
  return lines;
}
