import type { z } from 'zod';
import type { JobResource } from '../domain/resources.js';
import type { HostDriver, Progress } from '../hypervisor/types.js';

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
}

export function defineKind<N extends string, S extends z.ZodTypeAny>(def: KindDefinition<N, S>): KindDefinition<N, S> {
  return def;
}

/** For describe(): "on local". */
export const onHost = (p: { host: string }): string => `on ${p.host}`;

/** For summary(): a stored value as text, whatever it is. */
export const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? '?'));

/** The host-call options every executor passes on. */
export const opOf = (ctx: ExecutorContext) => ({ signal: ctx.signal, onProgress: ctx.progress });
