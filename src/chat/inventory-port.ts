import type { CloudInit, InventorySnapshot, InventoryVm, TemplateDisk, VmState, VmSummary } from '../hypervisor/types.js';

/**
 * The slice of the inventory (src/inventory) the chat core reads — in its own file, since the
 * catalog uses it and services uses the catalog. The chat core never imports src/inventory
 * (test/layers.test.ts): these types mirror the inventory's reads, and src/app.ts wires them.
 *
 * Every read is one indexed query on the kvmops database: no host is read. What the inventory
 * holds may be a little old (the reconcile runs every KVMOPS_RECONCILE); a job writes its rows
 * with its result, so kvmops' own work is never missing. `refresh(host)` is the fresh read: a
 * reconcile pass over the host that starts after the call (a cheap diff, shared by callers that
 * wait together), after which the reads see everything done on the host before it was asked.
 */

/** The inventory's state on a host, for answers that say "inventory: importing 1,200 / 3,000". */
export interface InventoryStatus {
  /** The first import's progress while it runs (total 0: still listing the host); null otherwise. */
  importing: { done: number; total: number } | null;
  /** Epoch ms the first import completed; null before (answers may then be incomplete). */
  importedAt: number | null;
  /** Epoch ms of the last completed reconcile. */
  reconciledAt: number | null;
}

/** A template as the inventory knows it (src/inventory/read.ts `KnownTemplate`). */
export interface InventoryTemplateView {
  name: string;
  sourceVm: string;
  sealed: boolean;
  cloudInit: CloudInit;
  /** ISO 8601: what a deploy pins (`templateCreatedAt`). */
  createdAt: string;
  size: number;
  disks: TemplateDisk[];
  /** How many VMs have a disk that hangs on it. */
  dependents: number;
}

/** A VM as a list shows it: from the inventory's rows, no host read. */
export interface InventoryVmRow {
  uuid: string;
  name: string;
  state: VmState;
}

/** A VM as `/vm info` shows it: the inventory's record, whole. */
export type InventoryVmDetail = Pick<InventoryVm, 'uuid' | 'name' | 'state' | 'disks' | 'snapshots'>;

export interface InventoryPort {
  status(host: string): InventoryStatus;
  /**
   * `/vm list`: one page in name order and how many match — `filter` a substring or a glob
   * (src/domain/name-filter.ts). States are the inventory's, kept true by the reconcile and
   * libvirt's events: one page costs one query, whatever the host's size.
   */
  vmPage(host: string, page: { offset: number; limit: number; filter?: string | undefined }): { vms: InventoryVmRow[]; total: number };
  /** `/vm info`: the VM of that name, whole (disks with their chains and template, snapshots); undefined when unknown. */
  vmNamed(host: string, name: string): InventoryVmDetail | undefined;
  /** A reconcile pass over `host` that starts after this call; resolves when it has written. */
  refresh(host: string): Promise<unknown>;
  /** Every template of the host, by name, with its dependents counted. */
  templates(host: string): InventoryTemplateView[];
  /** Names of the VMs whose disks hang on `template`, by name. */
  dependentsOf(host: string, template: string): string[];
  /** Template names starting with `prefix` (ASCII case ignored), by name, at most `limit`. */
  templateNames(host: string, prefix: string, limit: number): string[];
  /** VM names starting with `prefix` (ASCII case ignored), by name, at most `limit`. */
  vmNames(host: string, prefix: string, limit: number): string[];
  /** The VMs of exactly that name (one, unless a rename is half-seen). */
  vmsNamed(host: string, name: string): VmSummary[];
  /** `/host list|info`: the host's VMs the inventory knows (defined) and how many run. */
  vmCounts(host: string): { defined: number; running: number };
  /** The snapshots of the VM with that uuid (none when unknown). */
  snapshots(host: string, uuid: string): InventorySnapshot[];
}

/**
 * "inventory: importing 1,200 / 3,000 domains" while a host's first import runs ("not imported
 * yet" before one completed), else null: what an answer adds where an incomplete inventory
 * matters (a list, a refusal).
 */
export function importingNote(status: InventoryStatus): string | null {
  const p = status.importing;
  if (!p) return status.importedAt === null ? 'inventory: not imported yet' : null;
  if (p.total === 0) return 'inventory: importing (listing the host)';
  return `inventory: importing ${p.done.toLocaleString('en-US')} / ${p.total.toLocaleString('en-US')} domains`;
}
