import { immediate } from '../jobs/context.js';
import type { Database } from '../jobs/db.js';
import { InventoryReads } from './read.js';
import { inventoryWriter, type InventoryWrite } from './write.js';

/** Per host: when the first import completed, when the last reconcile did (epoch ms). */
export interface HostInventoryRow {
  importedAt: number | null;
  reconciledAt: number | null;
}

/**
 * The inventory on the kvmops database (tables: migration 006): its writer (jobs' completions and
 * the reconcile loop), its reads, and each host's import and reconcile marks. Shares the job
 * store's connection: a job's rows commit in its completion's transaction.
 */
export class InventoryStore {
  readonly write: InventoryWrite;
  readonly reads: InventoryReads;
  readonly #host;
  readonly #mark: (host: string, at: number, imported: boolean) => void;

  constructor(readonly db: Database) {
    this.write = inventoryWriter(db);
    this.reads = new InventoryReads(db);
    this.#host = db.prepare<[string], { imported_at: number | null; reconciled_at: number | null }>(
      'SELECT imported_at, reconciled_at FROM inventory_hosts WHERE host = ?',
    );
    const mark = db.prepare(`
INSERT INTO inventory_hosts (host, imported_at, reconciled_at) VALUES (@host, CASE WHEN @imported THEN @at END, @at)
ON CONFLICT (host) DO UPDATE SET reconciled_at = @at, imported_at = coalesce(imported_at, CASE WHEN @imported THEN @at END)`);
    this.#mark = immediate(db, (host: string, at: number, imported: boolean) => void mark.run({ host, at, imported: imported ? 1 : 0 }));
  }

  hostStatus(host: string): HostInventoryRow {
    const r = this.#host.get(host);
    return { importedAt: r?.imported_at ?? null, reconciledAt: r?.reconciled_at ?? null };
  }

  /** A reconcile of `host` completed at `at`; `imported`: it read every domain (the first import). */
  markReconciled(host: string, at: number, imported: boolean): void {
    this.#mark(host, at, imported);
  }
}
