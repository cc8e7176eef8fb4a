import { immediate, type StoreContext } from './context.js';
import { rowToHostState, type HostStateRow } from './host-states.js';
import type { HostState } from './types.js';

const UPSERT = `
INSERT INTO host_state (host, drained, changed_by, changed_by_name, changed_at)
VALUES (@host, @drained, @by, @byName, @now)
ON CONFLICT (host) DO UPDATE SET drained = excluded.drained, changed_by = excluded.changed_by,
  changed_by_name = excluded.changed_by_name, changed_at = excluded.changed_at
RETURNING *`;

/**
 * `/host drain host:X [off]`: marks a host drained (or not) for placement, with who and when.
 * One statement; the host name is the caller's to check (a KVMOPS_HOSTS name).
 */
export function setHostDrainOp(ctx: StoreContext): (host: string, drained: boolean, by: { id: string; name: string }) => HostState {
  const upsert = ctx.db.prepare(UPSERT);
  return immediate(ctx.db, (host: string, drained: boolean, by: { id: string; name: string }): HostState => {
    const row = upsert.get({ host, drained: drained ? 1 : 0, by: by.id, byName: by.name, now: ctx.now() }) as HostStateRow;
    return rowToHostState(row);
  });
}
