import type { Approval, Job, NotifyTarget } from '../../src/jobs/types.js';
import type { NotificationSink, StatusView } from '../../src/notifier/types.js';

/**
 * A chat that keeps its messages in memory — the boundary the notifier talks to, standing in for
 * Discord. `failing` decides per call whether the platform is "down" (throws before doing
 * anything, like a 503 or a dropped gateway).
 */
export class RecordingSink implements NotificationSink {
  readonly adapter: string;
  readonly messages = new Map<string, StatusView>();
  /** Every successful upsert, in order. */
  readonly edits: Array<{ jobId: number; messageId: string; state: string }> = [];
  readonly announces: StatusView[] = [];
  readonly approvalEdits: Array<{ jobId: number; state: string }> = [];
  calls = 0;
  failedCalls = 0;
  private next = 1;

  constructor(
    public failing: (call: number, what: string) => boolean = () => false,
    adapter = 'shell',
  ) {
    this.adapter = adapter;
  }

  private gate(what: string): void {
    this.calls++;
    if (this.failing(this.calls, what)) {
      this.failedCalls++;
      throw Object.assign(new Error(`503 Service Unavailable (${what})`), { status: 503 });
    }
  }

  async upsertStatus(_target: NotifyTarget, messageId: string | null, view: StatusView): Promise<string> {
    this.gate('upsert');
    const id = messageId ?? `m${this.next++}`;
    this.messages.set(id, view);
    this.edits.push({ jobId: view.jobId, messageId: id, state: view.state });
    return id;
  }

  async announceEnd(_target: NotifyTarget, view: StatusView): Promise<void> {
    this.gate('announce');
    this.announces.push(view);
  }

  async approvalChanged(approval: Approval, job: Job): Promise<void> {
    this.gate('approval');
    this.approvalEdits.push({ jobId: job.id, state: approval.state });
  }

  messagesOf(jobId: number): string[] {
    return [...new Set(this.edits.filter((e) => e.jobId === jobId).map((e) => e.messageId))];
  }
}
