import type { JobKind, JobPayload } from '../../domain/job-kinds.js';
import type { Job, JobProgress } from '../../jobs/types.js';
import type { HostDriver } from '../../hypervisor/types.js';

export interface ExecutorContext {
  /** The payload's host (`payload.host`), already resolved. */
  host: HostDriver;
  /** Fires on cancel, on lease loss and on shutdown past the grace period. Pass it to every host call. */
  signal: AbortSignal;
  /** Coalesced by the worker (a few writes per second at most; the last one is always written). */
  progress(p: JobProgress): void;
  /**
   * True when this attempt may find the work of an earlier one half-done: the job was taken back
   * from an expired lease (a crash), or this is a retry / a released job's next run. The executor
   * must then look at the real state before acting, so that it finishes or fails cleanly instead
   * of acting twice.
   */
  recovered: boolean;
  job: Job;
}

/**
 * Runs one job kind. Resolves with a small JSON-safe result (stored on the job and shown to the
 * user); throws a KvmopsError (anything else becomes `internal`). A transient code retries.
 */
export type Executor<K extends JobKind> = (payload: JobPayload<K>, ctx: ExecutorContext) => Promise<unknown>;

/** Exactly one executor per job kind: a missing or extra key is a compile error. */
export type ExecutorMap = { [K in JobKind]: Executor<K> };
