import type { Database } from 'better-sqlite3';
import type { HostState } from './types.js';

export interface HostStateRow {
  host: string;
  drained: number;
  changed_by: string;
  changed_by_name: string;
  changed_at: number;
}

export function rowToHostState(r: HostStateRow): HostState {
  return { host: r.host, drained: r.drained === 1, changedBy: { id: r.changed_by, name: r.changed_by_name }, changedAt: r.changed_at };
}

/** Every host state chat set (a few rows: one per host ever drained), by host name. */
export const HOST_STATES_SQL = `SELECT * FROM host_state ORDER BY host`;

export function hostStatesOp(db: Database): () => HostState[] {
  const all = db.prepare<[], HostStateRow>(HOST_STATES_SQL);
  return () => all.all().map(rowToHostState);
}
