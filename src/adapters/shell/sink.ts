import type { Approval, Job, NotificationSink, NotifyTarget, StatusView } from '../../chat/adapter-port.js';
import { statusLines } from './render.js';
import type { Transcript } from './transcript.js';

export const SHELL_ADAPTER = 'shell';
export const BOT_NAME = 'kvmops';

/**
 * The notifier's sink for the terminal chat. Status messages are edited in place; a status
 * message from an earlier session (unknown id) is posted anew, and the notifier stores the new
 * id. Finished jobs get a new message mentioning the requester, as in Discord.
 */
export class ShellSink implements NotificationSink {
  readonly adapter = SHELL_ADAPTER;
  /** Completion announcements made, by job id: the notifier promises one; this makes it visible. */
  readonly announced = new Map<number, number>();

  constructor(
    private readonly transcript: Transcript,
    private readonly onEnd?: (view: StatusView) => void,
  ) {}

  async upsertStatus(_target: NotifyTarget, messageId: string | null, view: StatusView): Promise<string> {
    const lines = statusLines(view);
    if (messageId && this.transcript.edit(messageId, lines)) return messageId;
    return this.transcript.post(BOT_NAME, lines);
  }

  async announceEnd(_target: NotifyTarget, view: StatusView): Promise<void> {
    if (view.group) {
      // A crowded channel's grouped mention: one line naming every job (the terminal has no rate
      // limit, but a hundred mentions would bury the prompt all the same).
      const list = view.group.map((j) => `#${j.jobId} ${j.state}${j.error ? ` (${j.error.code})` : ''}`).join(', ');
      this.transcript.post(BOT_NAME, [`@${view.requester.name}: ${view.group.length} of your jobs ended — ${list}`]);
      for (const j of view.group) {
        this.announced.set(j.jobId, (this.announced.get(j.jobId) ?? 0) + 1);
        this.onEnd?.({ ...view, jobId: j.jobId, state: j.state, title: j.title });
      }
      return;
    }
    this.announced.set(view.jobId, (this.announced.get(view.jobId) ?? 0) + 1);
    const how = view.state === 'succeeded' ? 'succeeded' : view.state === 'failed' ? 'failed' : 'was cancelled';
    const detail = view.error ? ` — ${view.error.code}: ${view.error.message}` : view.result ? ` — ${view.result}` : '';
    const what = view.batch ? `batch #${view.jobId} (${view.batch.size} jobs)` : `job #${view.jobId}`;
    this.transcript.post(BOT_NAME, [`@${view.requester.name}: ${what} ${how}${detail}`]);
    this.onEnd?.(view);
  }

  async approvalChanged(approval: Approval, job: Job): Promise<void> {
    if (!approval.messageId) return;
    // The store keeps only the decider's id; in the shell a user's id is their name (session.ts).
    const by = approval.decidedBy ? ` by ${approval.decidedBy}` : '';
    const what = job.batchId !== null ? `batch #${job.batchId} (every job of it)` : `job #${job.id}`;
    const line = `Approval for ${what}: ${approval.state}${approval.state === 'expired' ? '' : by}`;
    this.transcript.post(BOT_NAME, [`${line} (request ${approval.messageId})`]);
  }
}
