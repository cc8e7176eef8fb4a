import type { Database } from '../jobs/db.js';
import type { CloudInit, InventoryDisk, InventorySnapshot, SnapshotKind, TemplateDisk, VmState } from '../hypervisor/types.js';

/**
 * Reading the inventory: what lists, autocomplete and checks answer from (never the host).
 * Each read is one indexed query (migration 006 says which index serves which read).
 */

export interface KnownTemplate {
  name: string;
  sourceVm: string;
  sealed: boolean;
  cloudInit: CloudInit;
  createdAt: string;
  size: number;
  disks: TemplateDisk[];
  /** VMs with a disk that hangs on it, counted from the inventory's disks. */
  dependents: number;
}

export interface KnownVm {
  uuid: string;
  name: string;
  state: VmState;
  readAt: number;
  stale: boolean;
  /** The listing's disk sign it was read for; null when a job wrote it. */
  blocks: string | null;
}

export interface KnownVmDetail extends KnownVm {
  disks: InventoryDisk[];
  snapshots: InventorySnapshot[];
}

interface TemplateRow {
  name: string;
  source_vm: string;
  sealed: number;
  cloud_init: CloudInit;
  created_at: string;
  size: number;
  disks: string;
  dependents: number;
}
interface VmRow {
  uuid: string;
  name: string;
  state: string;
  read_at: number;
  stale: number;
  blocks: string | null;
}
interface DiskRow {
  target: string;
  file: string;
  format: string;
  chain: string;
  template: string | null;
  unreadable: string | null;
}
interface SnapshotRow {
  name: string;
  kind: string;
  parent: string | null;
  created_at: number;
  files: string;
}

/**
 * A destructive step's candidates (`referrers`): each part one indexed read — the files by
 * migration 008's key (host, file), the unreadable disks by 006's partial index, the stale VMs by
 * (host, stale, read_at) — so the cost follows the matches, not the host's size. Spelled out
 * (NOT INDEXED: the key itself; INDEXED BY; CROSS JOIN: the matches drive the join) because the
 * planner, with no statistics, otherwise walks every VM of the host (test/inventory/referrers.test.ts).
 */
export const REFERRERS_SQL = `
SELECT v.uuid, v.name FROM inventory_vm_files f NOT INDEXED CROSS JOIN inventory_vms v ON v.host = f.host AND v.uuid = f.vm_uuid
WHERE f.host = @host AND f.file IN (SELECT value FROM json_each(@files))
UNION
SELECT v.uuid, v.name FROM inventory_vm_disks d INDEXED BY inventory_vm_disks_unreadable CROSS JOIN inventory_vms v ON v.host = d.host AND v.uuid = d.vm_uuid
WHERE d.host = @host AND d.unreadable IS NOT NULL
UNION
SELECT uuid, name FROM inventory_vms INDEXED BY inventory_vms_read WHERE host = @host AND stale = 1`;

/** A LIKE pattern matching what starts with `prefix` literally (`%`, `_` and `\` escaped). */
const prefixPattern = (prefix: string): string => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

const toVm = (r: VmRow): KnownVm => ({ uuid: r.uuid, name: r.name, state: r.state as VmState, readAt: r.read_at, stale: r.stale === 1, blocks: r.blocks });

export class InventoryReads {
  readonly #templates;
  readonly #templateNames;
  readonly #vmNames;
  readonly #vmPage;
  readonly #vmCount;
  readonly #vmPageGlob;
  readonly #vmCountGlob;
  readonly #vmPageSub;
  readonly #vmCountSub;
  readonly #vm;
  readonly #vmsByName;
  readonly #disks;
  readonly #snapshots;
  readonly #allVms;
  readonly #dependents;
  readonly #seenOldest;
  readonly #referrers;
  readonly #vmCounts;

  constructor(db: Database) {
    this.#vmCounts = db.prepare<{ host: string }, { defined: number; running: number | null }>(
      `SELECT count(*) AS defined, sum(state = 'running') AS running FROM inventory_vms WHERE host = @host`,
    );
    this.#templates = db.prepare<{ host: string }, TemplateRow>(`
SELECT t.name, t.source_vm, t.sealed, t.cloud_init, t.created_at, t.size, t.disks,
  (SELECT count(DISTINCT d.vm_uuid) FROM inventory_vm_disks d WHERE d.host = t.host AND d.template = t.name) AS dependents
FROM inventory_templates t WHERE t.host = @host ORDER BY t.name`);
    // LIKE ignores ASCII case, as autocomplete does; walked in name order, it stops at `limit`
    this.#templateNames = db.prepare<{ host: string; like: string; limit: number }, { name: string }>(
      "SELECT name FROM inventory_templates WHERE host = @host AND name LIKE @like ESCAPE '\\' ORDER BY name LIMIT @limit",
    );
    this.#vmNames = db.prepare<{ host: string; like: string; limit: number }, { name: string }>(
      "SELECT DISTINCT name FROM inventory_vms WHERE host = @host AND name LIKE @like ESCAPE '\\' ORDER BY name LIMIT @limit",
    );
    this.#vmPage = db.prepare<{ host: string; offset: number; limit: number }, VmRow>(
      'SELECT uuid, name, state, read_at, stale, blocks FROM inventory_vms WHERE host = @host ORDER BY name, uuid LIMIT @limit OFFSET @offset',
    );
    this.#vmCount = db.prepare<{ host: string }, { n: number }>('SELECT count(*) AS n FROM inventory_vms WHERE host = @host');
    // A filter: a glob (`*`, `?`: SQLite's GLOB, case-sensitive like VM patterns) or a substring
    // (case-insensitive). Both walk the host's rows of the name index: O(VMs of the host), no host read.
    const GLOB = 'host = @host AND name GLOB @filter';
    const SUB = 'host = @host AND instr(lower(name), lower(@filter)) > 0';
    type Filtered = { host: string; filter: string };
    this.#vmPageGlob = db.prepare<Filtered & { offset: number; limit: number }, VmRow>(
      `SELECT uuid, name, state, read_at, stale, blocks FROM inventory_vms WHERE ${GLOB} ORDER BY name, uuid LIMIT @limit OFFSET @offset`,
    );
    this.#vmCountGlob = db.prepare<Filtered, { n: number }>(`SELECT count(*) AS n FROM inventory_vms WHERE ${GLOB}`);
    this.#vmPageSub = db.prepare<Filtered & { offset: number; limit: number }, VmRow>(
      `SELECT uuid, name, state, read_at, stale, blocks FROM inventory_vms WHERE ${SUB} ORDER BY name, uuid LIMIT @limit OFFSET @offset`,
    );
    this.#vmCountSub = db.prepare<Filtered, { n: number }>(`SELECT count(*) AS n FROM inventory_vms WHERE ${SUB}`);
    this.#vm = db.prepare<{ host: string; uuid: string }, VmRow>('SELECT uuid, name, state, read_at, stale, blocks FROM inventory_vms WHERE host = @host AND uuid = @uuid');
    this.#vmsByName = db.prepare<{ host: string; name: string }, VmRow>(
      'SELECT uuid, name, state, read_at, stale, blocks FROM inventory_vms WHERE host = @host AND name = @name',
    );
    this.#disks = db.prepare<{ host: string; uuid: string }, DiskRow>(
      'SELECT target, file, format, chain, template, unreadable FROM inventory_vm_disks WHERE host = @host AND vm_uuid = @uuid ORDER BY target',
    );
    this.#snapshots = db.prepare<{ host: string; uuid: string }, SnapshotRow>(
      'SELECT name, kind, parent, created_at, files FROM inventory_snapshots WHERE host = @host AND vm_uuid = @uuid ORDER BY created_at, name',
    );
    this.#allVms = db.prepare<{ host: string }, VmRow>('SELECT uuid, name, state, read_at, stale, blocks FROM inventory_vms WHERE host = @host');
    this.#seenOldest = db.prepare<{ host: string }, { name: string }>(
      'SELECT name FROM inventory_templates WHERE host = @host ORDER BY seen_at, name LIMIT 1',
    );
    this.#referrers = db.prepare<{ host: string; files: string }, { uuid: string; name: string }>(REFERRERS_SQL);
    this.#dependents = db.prepare<{ host: string; template: string }, { name: string }>(`
SELECT DISTINCT v.name FROM inventory_vm_disks d JOIN inventory_vms v ON v.host = d.host AND v.uuid = d.vm_uuid
WHERE d.host = @host AND d.template = @template ORDER BY v.name`);
  }

  /**
   * The domains that might use any of `files` (absolute paths, as the chains name them): those
   * whose chains reference one (migration 008's file index), those with a chain or definition
   * the inventory could not read (they might use anything), and those marked stale (changed
   * since they were read). The candidates a destructive step re-reads on disk; fresh only after
   * a reconcile that started after the step asked (src/inventory/referrers.ts).
   */
  referrers(host: string, files: readonly string[]): Array<{ uuid: string; name: string }> {
    return this.#referrers.all({ host, files: JSON.stringify(files) }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.uuid < b.uuid ? -1 : 1));
  }

  /** `/host list|info`: the host's VMs known (defined) and how many of them run. */
  vmCounts(host: string): { defined: number; running: number } {
    const r = this.#vmCounts.get({ host })!;
    return { defined: r.defined, running: r.running ?? 0 };
  }

  /** `/template list`: every template of the host with its dependents counted. */
  templates(host: string): KnownTemplate[] {
    return this.#templates.all({ host }).map((r) => ({
      name: r.name,
      sourceVm: r.source_vm,
      sealed: r.sealed === 1,
      cloudInit: r.cloud_init,
      createdAt: r.created_at,
      size: r.size,
      disks: JSON.parse(r.disks) as TemplateDisk[],
      dependents: r.dependents,
    }));
  }

  /** Autocomplete: template names starting with `prefix` (ASCII case ignored), in order. */
  templateNames(host: string, prefix = '', limit = 25): string[] {
    return this.#templateNames.all({ host, like: prefixPattern(prefix), limit }).map((r) => r.name);
  }

  /** Autocomplete: VM names starting with `prefix` (ASCII case ignored), in order. */
  vmNames(host: string, prefix = '', limit = 25): string[] {
    return this.#vmNames.all({ host, like: prefixPattern(prefix), limit }).map((r) => r.name);
  }

  /** The template read longest ago (the reconcile reads it again). */
  templateSeenOldest(host: string): string | undefined {
    return this.#seenOldest.get({ host })?.name;
  }

  /** Names of the VMs whose disks hang on the template (the candidates a delete must verify). */
  dependentsOf(host: string, template: string): string[] {
    return this.#dependents.all({ host, template }).map((r) => r.name);
  }

  /**
   * `/vm list`: one page in name order, and the total — of the VMs whose name matches `filter`
   * when given: with `*` or `?` a glob over the whole name (`web-*`, `db-0?`; case-sensitive),
   * otherwise a case-insensitive substring. `[` is no glob character here (names never hold it:
   * src/domain/names.ts), so it is matched as itself.
   */
  vmPage(host: string, offset = 0, limit = 50, filter?: string): { vms: KnownVm[]; total: number } {
    if (!filter) return { vms: this.#vmPage.all({ host, offset, limit }).map(toVm), total: this.#vmCount.get({ host })?.n ?? 0 };
    if (/[*?]/.test(filter)) {
      const glob = filter.replace(/\[/g, '[[]');
      return { vms: this.#vmPageGlob.all({ host, filter: glob, offset, limit }).map(toVm), total: this.#vmCountGlob.get({ host, filter: glob })?.n ?? 0 };
    }
    return { vms: this.#vmPageSub.all({ host, filter, offset, limit }).map(toVm), total: this.#vmCountSub.get({ host, filter })?.n ?? 0 };
  }

  /** Every VM of the host (the reconcile's diff). */
  vms(host: string): KnownVm[] {
    return this.#allVms.all({ host }).map(toVm);
  }

  /** The VM with that uuid, whole. */
  vm(host: string, uuid: string): KnownVmDetail | undefined {
    const row = this.#vm.get({ host, uuid });
    if (!row) return undefined;
    return {
      ...toVm(row),
      disks: this.#disks.all({ host, uuid }).map((d) => ({
        target: d.target,
        file: d.file,
        format: d.format,
        chain: JSON.parse(d.chain) as string[],
        template: d.template,
        ...(d.unreadable !== null ? { unreadable: d.unreadable } : {}),
      })),
      snapshots: this.snapshotsOf(host, uuid),
    };
  }

  /** The snapshots of the VM with that uuid, oldest first ([] when unknown). */
  snapshotsOf(host: string, uuid: string): InventorySnapshot[] {
    return this.#snapshots.all({ host, uuid }).map((s) => ({
      name: s.name,
      kind: s.kind as SnapshotKind,
      parent: s.parent,
      createdAt: s.created_at,
      files: JSON.parse(s.files) as string[],
    }));
  }

  /** VMs of that exact name (one, unless a rename is half-seen). */
  vmsNamed(host: string, name: string): KnownVm[] {
    return this.#vmsByName.all({ host, name }).map(toVm);
  }
}
