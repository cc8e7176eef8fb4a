import type { z } from 'zod';
import { KvmopsError } from '../domain/errors.js';
import { cut } from '../domain/text.js';
import type { JobResource } from '../domain/resources.js';
import { deploy } from './deploy.js';
import type { ExecutorContext, KindDefinition, StoredResult } from './kind.js';
import { snapshotCreate } from './snapshot-create.js';
import { snapshotDelete } from './snapshot-delete.js';
import { snapshotRevert } from './snapshot-revert.js';
import { templateCreate } from './template-create.js';
import { templateDelete } from './template-delete.js';
import { vmDelete } from './vm-delete.js';
import { vmStart } from './vm-start.js';
import { vmStop } from './vm-stop.js';

/**
 * Every job kind kvmops knows: one file each (./kind.ts says what a kind is). Adding a kind is
 * that file plus one line here; everything below derives from this list.
 */
export const KINDS = [deploy, templateCreate, templateDelete, snapshotCreate, snapshotRevert, snapshotDelete, vmStart, vmStop, vmDelete] as const;

type AnyKind = (typeof KINDS)[number];
export type JobKind = AnyKind['name'];
export type KindOf<K extends JobKind> = Extract<AnyKind, { name: K }>;
export type JobPayload<K extends JobKind> = z.infer<KindOf<K>['payload']>;
export type { ExecutorContext, StoredResult } from './kind.js';

export const JOB_KINDS: readonly JobKind[] = KINDS.map((k) => k.name);

const BY_NAME = new Map<string, AnyKind>(KINDS.map((k) => [k.name, k]));

export function isJobKind(name: string): name is JobKind {
  return BY_NAME.has(name);
}

/** The kind of that name; `invalid-input` for one kvmops does not know (a hand-edited row). */
export function kindOf<K extends JobKind>(name: K): KindOf<K>;
export function kindOf(name: string): AnyKind;
export function kindOf(name: string): AnyKind {
  const k = BY_NAME.get(name);
  if (!k) throw new KvmopsError('invalid-input', `unknown job kind: ${name}`, { details: { kind: name } });
  return k;
}

/** Loosely typed view for code that handles every kind alike (payloads come from SQLite). */
const loose = (name: string) => kindOf(name) as unknown as KindDefinition<string, z.ZodType<Record<string, unknown>>>;

/** Kinds that start in `awaiting_approval`. */
export const KINDS_NEEDING_APPROVAL: ReadonlySet<JobKind> = new Set(KINDS.filter((k) => k.needsApproval).map((k) => k.name));

/** What a job holds, from its validated payload (src/domain/resources.ts). */
export function jobResources(kind: JobKind, payload: Record<string, unknown>): JobResource[] {
  return loose(kind).resources(payload);
}

/** The job in the domain's words — one description for replies, status messages and lists. */
export function describeJob(job: { kind: string; payload: unknown }): string {
  const p = job.payload as Record<string, unknown>;
  if (!BY_NAME.has(job.kind)) return `${job.kind} on ${String(p?.host ?? '?')}`;
  const k = loose(job.kind);
  const parsed = k.payload.safeParse(p);
  if (parsed.success) return k.describe(parsed.data);
  // A payload written before pins were required lacks only them: described in the same words.
  // Any other payload that no longer parses (an older version wrote it) is described roughly.
  const onlyMissing = parsed.error.issues.every((i) => i.code === 'invalid_type' && i.received === 'undefined');
  return onlyMissing ? k.describe(p) : `${job.kind} ${JSON.stringify(p)}`;
}

/** What the job pinned at request time, a line each (the approval request shows them); [] when unknown. */
export function pinnedLines(job: { kind: string; payload: unknown }): string[] {
  if (!BY_NAME.has(job.kind)) return [];
  const k = loose(job.kind);
  const parsed = k.payload.safeParse(job.payload);
  return parsed.success ? k.pinned(parsed.data) : [];
}

const MAX_RESULT = 300;

/** One line for a succeeded job's result (JSON when the kind can't read it). */
export function resultSummary(job: { kind: string; result: unknown }): string | undefined {
  const r = job.result;
  if (r === null || r === undefined) return undefined;
  const text = typeof r === 'object' && BY_NAME.has(job.kind) ? loose(job.kind).summary(r as StoredResult) : undefined;
  const out = text ?? (typeof r === 'object' ? JSON.stringify(r) : String(r));
  return cut(out, MAX_RESULT);
}

/** Runs one job of one kind: on a recovered attempt, its recovery check first. */
export type Executor<K extends JobKind> = (payload: JobPayload<K>, ctx: ExecutorContext) => Promise<unknown>;
/** Exactly one executor per job kind: a missing or extra key is a compile error. */
export type ExecutorMap = { [K in JobKind]: Executor<K> };

function executorOf(kind: JobKind): Executor<JobKind> {
  const k = loose(kind);
  return async (payload, ctx) => {
    let result: unknown;
    if (ctx.recovered && k.recover) result = await k.recover(payload, ctx);
    if (result === undefined) result = await k.execute(payload, ctx);
    // What the job changed, reported with its result (the worker writes both in one transaction).
    ctx.reportInventory(...(await k.inventory(payload, (result ?? {}) as StoredResult, ctx)));
    return result;
  };
}

/** The registry the worker runs (tests inject their own map of the same type). */
export const EXECUTORS = Object.fromEntries(JOB_KINDS.map((k) => [k, executorOf(k)])) as ExecutorMap;
