import { KvmopsError } from './errors.js';

/**
 * Placement for `/deploy host:auto`: which host each VM of a deploy goes to, decided once when
 * the command is given (the jobs then pin their hosts). Pure: the facts are gathered by the
 * command (the host probe, the inventory, the host states) and passed in.
 *
 * Rules, in order:
 * - a host must be reachable, not drained, and have known memory figures;
 * - a host must hold the template — unless `copyTemplate` is on (a later step copies templates
 *   between hosts): then a non-holder is a candidate too, needing room for the template's copy,
 *   and a holder is always preferred to it (holding is a preference weight, not only a filter);
 * - each VM, one after another, goes to the candidate with the most memory left after the VMs
 *   already placed there (then the most storage left, then KVMOPS_HOSTS order) — so a count
 *   spreads over hosts by free capacity, evening out the memory left: two equal hosts get 2 + 2
 *   of 4; hosts with 6 and 2 GiB free get 5 + 1 of six 1-GiB VMs (1 GiB left on each);
 * - it must fit: memory left ≥ the template's memory (+ `reserve` kept for the host itself),
 *   storage left ≥ what the VM's disk takes (thin: ~0; clone: the template's size).
 * When some VM fits nowhere, nothing is placed: `no-capacity`, naming what is short where.
 */

/** `/deploy host:auto` asks for placement: no host may be called that (KVMOPS_HOSTS refuses it). */
export const AUTO_HOST = 'auto';

export interface PlacementCandidate {
  host: string;
  reachable: boolean;
  drained: boolean;
  holdsTemplate: boolean;
  /** Bytes new guests can take now; null when not known (the host was never read). */
  memoryAvailable: number | null;
  /** Bytes free in the storage dir; null when not known (kvmops has no pool there yet). */
  storageAvailable: number | null;
  /**
   * The need on this host when it differs from the deploy's (a template of the same name on
   * each host is a separate object: its memory and size may differ).
   */
  memoryPerVm?: number;
  storagePerVm?: number;
}

export interface PlacementNeed {
  template: string;
  count: number;
  /** Each VM's memory (the template's `<memory>`), bytes. */
  memoryPerVm: number;
  /** What each VM's disks take at first, bytes: ~0 for thin, the template's size for clone. */
  storagePerVm: number;
  /** The template's size in bytes: what a copy to a non-holder takes (with `copyTemplate`). */
  templateSize: number;
  /** Memory left free on every host, bytes. Default 0. */
  reserve?: number;
  /** Non-holders are candidates (the template is copied first). Off today: templates don't travel yet. */
  copyTemplate?: boolean;
}

export type SkipReason = 'unreachable' | 'drained' | 'no-template' | 'unknown';

export interface PlacementResult {
  /** Hosts that get VMs, in KVMOPS_HOSTS order, with how many. */
  hosts: Array<{ host: string; count: number; copiesTemplate: boolean }>;
  /** Hosts not considered at all, and why. */
  skipped: Array<{ host: string; reason: SkipReason }>;
}

interface Open {
  c: PlacementCandidate;
  order: number;
  /** Left, after the VMs placed so far. */
  memory: number;
  storage: number | null;
  placed: number;
  copy: boolean;
  vmMemory: number;
  vmStorage: number;
}

export function place(candidates: readonly PlacementCandidate[], need: PlacementNeed): PlacementResult {
  if (!Number.isInteger(need.count) || need.count < 1) throw new KvmopsError('invalid-input', `count must be at least 1, not ${need.count}`);
  const reserve = need.reserve ?? 0;
  const skipped: PlacementResult['skipped'] = [];
  const open: Open[] = [];
  candidates.forEach((c, order) => {
    const reason: SkipReason | null = !c.reachable ? 'unreachable' : c.drained ? 'drained' : !c.holdsTemplate && !need.copyTemplate ? 'no-template' : c.memoryAvailable === null ? 'unknown' : null;
    if (reason) skipped.push({ host: c.host, reason });
    else {
      const copy = !c.holdsTemplate;
      // a copy of the template takes its room once, before the first VM
      const storage = c.storageAvailable === null ? null : c.storageAvailable - (copy ? need.templateSize : 0);
      open.push({ c, order, memory: c.memoryAvailable! - reserve, storage, placed: 0, copy, vmMemory: c.memoryPerVm ?? need.memoryPerVm, vmStorage: c.storagePerVm ?? need.storagePerVm });
    }
  });

  // thin from a held template needs no storage figure; anything else must be seen to fit
  const fits = (o: Open) => o.memory >= o.vmMemory && ((o.vmStorage === 0 && !o.copy) || (o.storage !== null && o.storage >= o.vmStorage));
  for (let i = 0; i < need.count; i++) {
    const best = open
      .filter(fits)
      .sort((a, b) => Number(a.copy) - Number(b.copy) || b.memory - a.memory || (b.storage ?? 0) - (a.storage ?? 0) || a.order - b.order)[0];
    if (!best) throw shortOf(open, skipped, need, i);
    best.placed++;
    best.memory -= best.vmMemory;
    if (best.storage !== null) best.storage -= best.vmStorage;
  }
  return {
    hosts: open
      .filter((o) => o.placed > 0)
      .sort((a, b) => a.order - b.order)
      .map((o) => ({ host: o.c.host, count: o.placed, copiesTemplate: o.copy })),
    skipped,
  };
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** "1.5 GiB", "512 MiB". */
export function sizeText(bytes: number): string {
  if (Math.abs(bytes) >= GiB) return `${(bytes / GiB).toFixed(1).replace(/\.0$/, '')} GiB`;
  return `${Math.round(bytes / MiB)} MiB`;
}

const SKIP_TEXT: Record<SkipReason, string> = {
  unreachable: 'unreachable',
  drained: 'drained',
  'no-template': 'does not hold the template',
  unknown: 'not read yet',
};

/** "drained", "does not hold the template": how a skipped host reads. */
export function skipText(reason: SkipReason): string {
  return SKIP_TEXT[reason];
}

/** The refusal when VM `placed` (0-based) fits nowhere: what each candidate lacks, and why the others were skipped. */
function shortOf(
  open: readonly Open[],
  skipped: PlacementResult['skipped'],
  need: PlacementNeed,
  placed: number,
): KvmopsError {
  const total = need.count;
  const lacks = open.map((o) => {
    const shortMem = o.vmMemory - o.memory;
    const parts: string[] = [];
    if (shortMem > 0) {
      parts.push(`memory short: ${sizeText(o.c.memoryAvailable ?? 0)} available${need.reserve ? ` (${sizeText(need.reserve)} kept for the host)` : ''}, ${sizeText(o.vmMemory)} a VM${o.placed ? `, ${o.placed} placed there` : ''}`);
    }
    if ((o.vmStorage > 0 || o.copy) && (o.storage === null || o.storage < o.vmStorage)) {
      parts.push(
        o.storage === null
          ? 'storage short: not known (kvmops has no pool there yet)'
          : `storage short: ${sizeText(o.c.storageAvailable ?? 0)} free, ${sizeText(o.vmStorage)} a VM${o.copy ? ` plus ${sizeText(need.templateSize)} for the template's copy` : ''}`,
      );
    }
    return `${o.c.host} — ${parts.join('; ') || 'full'}`;
  });
  const others = skipped.map((s) => `${s.host} — ${skipText(s.reason)}`);
  const where = [...lacks, ...others];
  const head =
    open.length === 0
      ? `No host can take a VM from template ${need.template}`
      : placed === 0
        ? `No host has room for ${total === 1 ? 'a VM' : `any of the ${total} VMs`} from template ${need.template}`
        : `Only ${placed} of ${total} VMs from template ${need.template} fit on the hosts`;
  return new KvmopsError('no-capacity', `${head}: ${where.join('; ') || 'no hosts'}. Nothing was deployed.`, {
    details: {
      template: need.template,
      count: total,
      fits: placed,
      memoryPerVm: need.memoryPerVm,
      storagePerVm: need.storagePerVm,
      hosts: open.map((o) => ({ host: o.c.host, memoryAvailable: o.c.memoryAvailable, storageAvailable: o.c.storageAvailable })),
      skipped,
    },
  });
}
