import type { z } from 'zod';
import type { JobResource } from '../domain/resources.js';
import type { HostDriver, Hypervisor, InventoryTemplate, InventoryVm, OpContext, Progress, Referrers, VmState } from '../hypervisor/types.js';

/**
 * One change a job made to what kvmops knows of a host (src/inventory keeps it). A kind says
 * what its job changed (`KindDefinition.inventory`), the worker writes these rows in the SAME
 * transaction as the job's result, so the inventory is never behind kvmops' own work.
 */
export type InventoryChange =
  /** The VM as read after the job: its row, disks and snapshots replaced whole. */
  | { type: 'vm'; host: string; vm: InventoryVm }
  | { type: 'vm-gone'; host: string; uuid: string }
  | { type: 'vm-state'; host: string; uuid: string; state: VmState }
  /** The job changed this VM but could not read it back: the next reconcile reads it whole. */
  | { type: 'vm-stale'; host: string; uuid: string }
  | { type: 'template'; host: string; template: InventoryTemplate }
  | { type: 'template-gone'; host: string; name: string };

/**
 * A job kind, whole, in one place: what its payload is, what it holds while it waits and runs,
 * whether it needs an approval, how it is described to people (one description for replies,
 * status messages and lists alike), how its result is summed up, how it runs, and how a
 * recovered attempt finds out that an earlier one already did the work.
 *
 * A new kind is one file that calls `defineKind` plus one line in `KINDS` (./index.ts); leaving
 * out any of these fields does not compile.
 */
export interface ExecutorContext {
  /** The payload's host (`payload.host`), already resolved. */
  host: HostDriver;
  /** Every configured host (the worker wires it): a deploy fetches a template it lacks from another. */
  hosts?: Pick<Hypervisor, 'hostNames' | 'host'>;
  /** Fires on cancel, on lease loss and on shutdown past the grace period. Pass it to every host call. */
  signal: AbortSignal;
  /** Coalesced by the worker (a few writes per second at most; the last one is always written). */
  progress(p: Progress): void;
  /**
   * True when this attempt may find the work of an earlier one half-done: the job was taken back
   * from an expired lease (a crash), or this is a retry / a released job's next run.
   */
  recovered: boolean;
  /**
   * The job's id, its request id and this attempt's number (1, 2 …). The request id is the one
   * to give the host for records of the job's effect (deploy, revert): made at enqueue, the same
   * on every attempt, never used by another job (src/jobs/migrations/003_request_ids.ts).
   */
  job: { id: number; requestId: string; attempt: number };
  /**
   * The side channel of inventory changes: what the job changed on the host, written by the
   * worker with the result in one transaction when the job succeeds (dropped when it fails: the
   * reconcile loop sees whatever a failed attempt left). Kinds do not call it themselves: the
   * registry (./index.ts) reports their `inventory` after execute or recover returned.
   */
  reportInventory(...changes: InventoryChange[]): void;
  /**
   * The inventory's answer to "which domains might use these files?", after a fresh diff of
   * this job's host (the worker wires it; absent in tests and the bench). Passed on to the host
   * by `opOf`, so a destructive step re-reads only those candidates, not the whole host.
   */
  referrers?: Referrers;
}

/** A result as read back from SQLite: JSON of unknown shape (an older version may have written it). */
export type StoredResult = Record<string, unknown>;

export interface KindDefinition<N extends string, S extends z.ZodTypeAny> {
  name: N;
  /** Checked when the job is enqueued and again when it is claimed. */
  payload: S;
  /** Destructive kinds start in `awaiting_approval`. */
  needsApproval: boolean;
  /** The first is the job's main resource (shown, filtered on). See src/domain/resources.ts. */
  resources(p: z.infer<S>): JobResource[];
  /** "Deploy web ×4 (thin) from golden on local": the job in the domain's words. */
  describe(p: z.infer<S>): string;
  /**
   * What the job pinned at request time, a line each ("VM web (uuid 3f2a1b9c)", "snapshot
   * known-good (taken 2026-12-07 14:03 UTC)"): shown on the approval request, so the approver
   * approves exactly what the job will act on. Empty for a kind (or a payload) with no pin.
   */
  pinned(p: z.infer<S>): string[];
  /** One line for a succeeded job's result, or undefined to show it as JSON. Read defensively. */
  summary(result: StoredResult): string | undefined;
  /**
   * Runs on a recovered attempt before `execute`: the earlier attempt's effect, looked up in the
   * real state (or in the record a destructive executor left), as the result to report — or
   * undefined to execute. `null` only where execute itself is idempotent by contract (say why).
   */
  recover: ((p: z.infer<S>, ctx: ExecutorContext) => Promise<unknown>) | null;
  /** Does the work; throws a KvmopsError (anything else becomes `internal`; a transient code retries). */
  execute(p: z.infer<S>, ctx: ExecutorContext): Promise<unknown>;
  /**
   * What the succeeded job changed, as inventory rows (after execute, or after recover found
   * the work done): read back through `ctx.host.inventory` for the objects it touched only —
   * never the whole host. It must not throw: a read that fails becomes `vm-stale` (or nothing,
   * for an object the next reconcile sees as new or gone anyway). See ./inventory.ts.
   */
  inventory(p: z.infer<S>, result: StoredResult, ctx: ExecutorContext): Promise<InventoryChange[]>;
}

export function defineKind<N extends string, S extends z.ZodTypeAny>(def: KindDefinition<N, S>): KindDefinition<N, S> {
  return def;
}

/** For describe(): "on local". */
export const onHost = (p: { host: string }): string => `on ${p.host}`;

/** For summary(): a stored value as text, whatever it is. */
export const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? '?'));

/** The host-call options every executor passes on. */
export const opOf = (ctx: ExecutorContext): OpContext => ({ signal: ctx.signal, onProgress: ctx.progress, ...(ctx.referrers ? { referrers: ctx.referrers } : {}) });
