/**
 * A crowded channel (issue 25): what the notifier does when more jobs are live in one channel
 * than a chat can show one message each without flooding it.
 *
 * Discord lets a bot create about 5 messages per 5 s in a channel (its `X-RateLimit-*` headers
 * on `POST /channels/{id}/messages`; discord.js waits the rest out, so a flood shows as minutes
 * of lag, not as errors). A job with its own status message costs two creates (the status
 * message, the completion mention), so 100 commands at once would be 200 creates — 200 s of
 * queue. Hence, per channel:
 *
 *  - up to `threshold` live jobs get their own status message (the normal case);
 *  - beyond that, a new job gets a line in ONE channel summary message that is edited ("12
 *    running, 30 queued, 54 ended: …") — it gets no message of its own, and keeps its line
 *    there until the summary is done; `/job status ID` shows it in full; while a burst is
 *    arriving, every new job joins it;
 *  - while a channel has a live summary, completion mentions are grouped per requester: one
 *    mention names every job of theirs that ended, sent once none of theirs is live in the
 *    summary any more or `groupWindowMs` after the first of them ended;
 *  - a mention never goes out while the channel's creates in the last window already reached
 *    the platform's limit (the ledger below; a sink states its limit, `createLimit`): it waits
 *    its turn in the outbox instead of in discord.js' queue. A terminal has no limit.
 *
 * The figures are a policy, not Discord's promise: Discord says to read the headers, and does
 * (discord.js still honours them), so a lower real limit means lag, never a lost message.
 */

export interface CrowdPolicy {
  /**
   * Live jobs with their own status message per channel before new jobs join the summary.
   * 3, because a burst then opens with 3 status messages + 1 summary = 4 creates, leaving one of
   * Discord's 5 per 5 s for a mention; a 4th own message would already make the burst's first
   * mention wait in discord.js' queue.
   */
  threshold: number;
  /** A grouped mention waits at most this long after the first job it names ended. */
  groupWindowMs: number;
  /** Least gap between two edits of a summary message (its jobs' changes are coalesced). */
  summaryEditMs: number;
  /** Most jobs one summary message holds (its lines must fit one embed); more start another. */
  summaryCapacity: number;
}

export const DEFAULT_CROWD_POLICY: CrowdPolicy = {
  threshold: 3,
  groupWindowMs: 15_000,
  summaryEditMs: 2_000,
  summaryCapacity: 150,
};

/** A platform's limit on message creates per channel (`NotificationSink.createLimit`). */
export interface CreateLimit {
  limit: number;
  windowMs: number;
}

/**
 * The times of the message creates the notifier made in one channel, within the last window of
 * the platform's limit; without a limit (a terminal) it never holds anything back.
 */
export class CreateLedger {
  private readonly times: number[] = [];

  constructor(private readonly policy: CreateLimit | undefined) {}

  record(now: number): void {
    this.times.push(now);
  }

  count(now: number): number {
    this.prune(now);
    return this.times.length;
  }

  /** When a create may go without exceeding the limit: now, or when the oldest one ages out. */
  nextFreeAt(now: number): number {
    if (!this.policy) return now;
    this.prune(now);
    if (this.times.length < this.policy.limit) return now;
    return this.times[this.times.length - this.policy.limit]! + this.policy.windowMs;
  }

  private prune(now: number): void {
    if (!this.policy) {
      this.times.length = 0;
      return;
    }
    while (this.times.length > 0 && this.times[0]! <= now - this.policy.windowMs) this.times.shift();
  }
}

/**
 * Whether a job that has no status message yet joins the channel's summary instead: the channel
 * already has `threshold` live jobs (with their own message or in the summary; a job that had
 * ended before its first message, within the window, counts too: a backlog after an outage), or
 * a burst is still arriving — the summary took a job within the window — so quick jobs that all
 * ended between two arrivals still share it instead of each opening a message. A summary left
 * with one long job (a deploy, a revert awaiting approval) no longer takes new ones once the
 * burst is over. (Spent creates alone are no reason: a summary is a create too.)
 */
export function joinsSummary(channel: { live: number; burstArriving: boolean }, policy: Pick<CrowdPolicy, 'threshold'>): boolean {
  return channel.burstArriving || channel.live >= policy.threshold;
}

/**
 * When a requester's grouped mention is due: at once when none of their jobs in the channel is
 * live any more, else when the window since the first ended job closes; never before the
 * channel's create budget allows.
 */
export function groupDueAt(
  group: { firstEndAt: number },
  opts: { requesterLive: boolean; now: number; createFreeAt: number },
  policy: Pick<CrowdPolicy, 'groupWindowMs'>,
): number {
  const due = opts.requesterLive ? group.firstEndAt + policy.groupWindowMs : opts.now;
  return Math.max(due, opts.createFreeAt);
}
