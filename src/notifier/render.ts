import { cut } from '../domain/text.js';
import type { Job } from '../jobs/types.js';
import type { StatusView } from './types.js';

/**
 * The job → StatusView mapping: pure (the clock is a parameter), so every adapter shows the
 * same words and tests can pin them. Payloads and results come from SQLite as JSON: read them
 * defensively, never trust their shape.
 */

type Loose = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? '?'));

/** A job state in words, the same in every adapter. */
export const STATE_WORDS: Record<Job['state'], string> = {
  awaiting_approval: 'awaiting approval',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

export function jobTitle(job: Pick<Job, 'kind' | 'payload'>): string {
  const p = job.payload as Loose;
  const on = `on ${str(p.host)}`;
  switch (job.kind) {
    case 'deploy': {
      const count = typeof p.count === 'number' && p.count > 1 ? ` ×${p.count}` : '';
      return `Deploy ${str(p.name)}${count} (${str(p.mode)}) from ${str(p.template)} ${on}`;
    }
    case 'template.create':
      return `Create template ${str(p.name)} from ${str(p.vm)}${p.seal ? ' (sealed)' : ''} ${on}`;
    case 'template.delete':
      return `Delete template ${str(p.name)} ${on}`;
    case 'snapshot.create':
      return `Snapshot ${str(p.vm)} as ${str(p.name)} (${str(p.kind)}) ${on}`;
    case 'snapshot.revert':
      return `Revert ${str(p.vm)} to snapshot ${str(p.name)} ${on}`;
    case 'snapshot.delete':
      return `Delete snapshot ${str(p.name)} of ${str(p.vm)} ${on}`;
    case 'vm.start':
      return `Start ${str(p.vm)} ${on}`;
    case 'vm.stop':
      return `${p.force ? 'Force-stop' : 'Stop'} ${str(p.vm)} ${on}`;
    case 'vm.delete':
      return `Delete VM ${str(p.vm)} ${on}`;
    default:
      return `${str(job.kind)} ${on}`;
  }
}

/** "1.2 s", "3 m 04 s", "1 h 02 m". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3_600)} h ${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')} m`;
}

const MAX_RESULT = 300;
const clip = (s: string, n = MAX_RESULT) => cut(s, n);

/** One line for a succeeded job's result (the executors' result shapes; JSON as a fallback). */
export function resultSummary(job: Pick<Job, 'kind' | 'result'>): string | undefined {
  const r = job.result as Loose | null | undefined;
  if (r === null || r === undefined) return undefined;
  if (typeof r !== 'object') return clip(String(r));
  const gone = r.alreadyGone ? ' (already gone)' : '';
  switch (job.kind) {
    case 'deploy':
      if (Array.isArray(r.vms)) {
        return clip(`${r.vms.length} VM${r.vms.length === 1 ? '' : 's'}: ${r.vms.map(str).join(', ')} (${str(r.mode)}${r.started ? ', started' : ''})`);
      }
      break;
    case 'template.create': {
      const t = r.template as Loose | undefined;
      if (t) return clip(`template ${str(t.name)} from ${str(t.sourceVm)}, ${str(t.disks)} disk(s)${t.sealed ? ', sealed' : ''}`);
      break;
    }
    case 'snapshot.create': {
      const s = r.snapshot as Loose | undefined;
      if (s) return clip(`snapshot ${str(s.name)} (${str(s.kind)}) of ${str(s.vm)}`);
      break;
    }
    case 'snapshot.revert': {
      const s = r.reverted as Loose | undefined;
      if (s) return clip(`${str(s.vm)} is back at ${str(s.snapshot)}${r.alreadyApplied ? ' (already applied)' : ''}`);
      break;
    }
    case 'template.delete':
    case 'snapshot.delete':
      return `deleted${gone}`;
    case 'vm.delete': {
      const removed = Array.isArray(r.removed) ? r.removed.length : 0;
      return `deleted${gone}${removed ? `, ${removed} file(s) removed` : ''}`;
    }
    case 'vm.start':
      return r.alreadyRunning ? 'already running' : 'running';
    case 'vm.stop':
      return r.alreadyStopped ? 'already shut off' : 'shut off';
  }
  return clip(JSON.stringify(r));
}

function progressText(p: { step: string; fraction?: number }): string {
  return p.fraction === undefined ? p.step : `${p.step} ${Math.round(Math.min(1, Math.max(0, p.fraction)) * 100)}%`;
}

export function statusView(job: Job, now: number): StatusView {
  const view: StatusView = {
    jobId: job.id,
    kind: job.kind,
    state: job.state,
    title: jobTitle(job),
    lines: [],
    requester: job.requester,
    updatedAt: job.updatedAt,
  };
  const lines = [`Job #${job.id} · ${STATE_WORDS[job.state] ?? job.state}`, `Requested by ${job.requester.name}`];

  if (job.startedAt !== null) {
    view.durationMs = Math.max(0, (job.finishedAt ?? now) - job.startedAt);
  }
  if (job.state === 'running' || job.state === 'queued') {
    if (job.attempts > 1 || (job.state === 'queued' && job.attempts > 0)) {
      lines.push(`Attempt ${job.state === 'queued' ? job.attempts + 1 : job.attempts} of ${job.maxAttempts}`);
    }
    if (job.recovered && job.state === 'running') lines.push('Recovered after an interruption');
    if (job.state === 'queued' && job.runAt > now) lines.push(`Retrying in ${formatDuration(job.runAt - now)}`);
  }
  if (job.state === 'running' && job.progress) {
    view.progress = job.progress;
    lines.push(`Progress: ${progressText(job.progress)}`);
  }
  if (job.state === 'running' && job.cancelRequested) lines.push('Stop requested');
  if (view.durationMs !== undefined) lines.push(`Duration: ${formatDuration(view.durationMs)}`);
  if (job.state === 'succeeded') {
    const result = resultSummary(job);
    if (result !== undefined) {
      view.result = result;
      lines.push(`Result: ${result}`);
    }
  }
  // A retrying job keeps its last error: show it while queued too ("why is it waiting?").
  if (job.error && (job.state === 'failed' || job.state === 'cancelled' || job.state === 'queued')) {
    view.error = { code: job.error.code, message: clip(job.error.message, 1000) };
    lines.push(`${job.state === 'queued' ? 'Last error' : 'Error'}: ${job.error.code} — ${view.error.message}`);
  }
  view.lines = lines;
  return view;
}
