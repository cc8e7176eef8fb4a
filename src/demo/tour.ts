import type { App } from '../app.js';
import { FINAL_STATES } from '../domain/job-states.js';
import { formatDuration } from '../domain/duration.js';
import type { Job } from '../jobs/types.js';

/** What both demo tours share (main.ts: the quick one; guest.ts: `--guest`). */

export const out = (s = ''): void => {
  process.stdout.write(`${s}\n`);
};
export const heading = (s: string): void => out(`\n── ${s} ${'─'.repeat(Math.max(0, 70 - s.length))}`);

/** Resolves once job `id` is final and the chat was told (`announced`); rejects after `timeoutMs`. */
export function waitForEnd(app: App, id: number, announced: Set<number>, timeoutMs = 300_000): Promise<Job> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const j = app.store.get(id);
      if (j && FINAL_STATES.has(j.state) && announced.has(id)) {
        clearInterval(timer);
        clearTimeout(limit);
        resolve(j);
      }
    };
    const timer = setInterval(check, 50);
    const limit = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`job #${id} did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    check();
  });
}

/** The jobs (each must have succeeded) and the checks (each must hold), printed; true when all did. */
export async function summary(db: string, jobs: readonly number[], checks: ReadonlyArray<[string, boolean]>): Promise<boolean> {
  const store = await import('../jobs/store.js').then((m) => m.openJobStore(db));
  let ok = true;
  for (const id of jobs) {
    const j = store.get(id)!;
    const took = j.startedAt && j.finishedAt ? formatDuration(j.finishedAt - j.startedAt) : '-';
    ok &&= j.state === 'succeeded';
    out(`  job #${String(j.id).padEnd(3)} ${j.kind.padEnd(16)} ${j.state.padEnd(10)} ${took}`);
  }
  store.close();
  for (const [what, held] of checks) {
    ok &&= held;
    out(`  ${held ? '✔' : '✖'} ${what}`);
  }
  return ok;
}
