import type { Approval, Job, NotificationSink, NotifyTarget, StatusView } from '../../chat/adapter-port.js';
import type { ChannelApi } from './channel-api.js';
import { discordCode, DiscordCode, restStatus, toSinkError } from './errors.js';
import { ADAPTER } from './interactions.js';
import { approvalDecisionMessage, endMessage, nonceFor, statusMessage } from './render.js';

/**
 * The Discord NotificationSink: job status messages, completion mentions, approval outcomes —
 * all as ordinary channel messages with the bot token, so a job running for hours keeps
 * reporting (an interaction token dies after 15 minutes).
 *
 * Failures: whatever discord.js finally throws becomes retryable (429, 5xx, network) or a
 * PermanentSinkError (400 / 403 / 404: unknown channel, missing access). The notifier retries
 * the first with backoff and drops the second.
 */
export class DiscordSink implements NotificationSink {
  readonly adapter = ADAPTER;
  /**
   * Discord's limit on creating messages: 5 per 5 s per channel (what its X-RateLimit headers on
   * POST /channels/{id}/messages show). The notifier's mentions keep to it; discord.js would
   * otherwise queue the rest and a burst's notifications would lag by minutes.
   */
  readonly createLimit = { limit: 5, windowMs: 5_000 };

  constructor(
    private readonly api: ChannelApi,
    private readonly opts: { onRestError?: (status: number | string) => void; now?: () => number } = {},
  ) {}

  async upsertStatus(target: NotifyTarget, messageId: string | null, view: StatusView): Promise<string> {
    const body = statusMessage(view);
    if (messageId !== null) {
      try {
        await this.api.edit(target.channelId, messageId, body);
        return messageId;
      } catch (e) {
        const code = discordCode(e);
        // 30046: too many edits to a message older than an hour; 10008: it was deleted.
        // Either way the job goes on reporting in a fresh status message.
        if (code !== DiscordCode.OldMessageEditLimit && code !== DiscordCode.UnknownMessage) throw this.fail(e, `editing the status message of job #${view.jobId}`);
      }
    }
    // A nonce makes a create repeated after a lost response return the first message (Discord
    // remembers nonces for a few minutes); a replacement gets its own.
    const nonce = messageId === null ? nonceFor('status', view.requestId) : nonceFor('st', `${view.requestId}-${(this.opts.now ?? Date.now)().toString(36)}`);
    try {
      const message = await this.api.send(target.channelId, { ...body, nonce, enforce_nonce: true });
      return message.id;
    } catch (e) {
      throw this.fail(e, `posting the status message of job #${view.jobId}`);
    }
  }

  async announceEnd(target: NotifyTarget, view: StatusView): Promise<void> {
    try {
      await this.api.send(target.channelId, endMessage(view));
    } catch (e) {
      throw this.fail(e, `announcing the end of job #${view.jobId}`);
    }
  }

  async approvalChanged(approval: Approval, job: Job): Promise<void> {
    if (approval.adapter !== ADAPTER || !approval.channelId || !approval.messageId || approval.state === 'pending') return;
    try {
      await this.api.edit(approval.channelId, approval.messageId, approvalDecisionMessage(approval, job));
    } catch (e) {
      // A deleted request has nothing left to edit.
      if (discordCode(e) === DiscordCode.UnknownMessage) return;
      throw this.fail(e, `editing the approval request of job #${job.id}`);
    }
  }

  private fail(e: unknown, what: string): Error {
    // HTTP error responses are counted where discord.js emits them (adapter.ts); a call that got
    // no response at all is only seen here.
    const status = restStatus(e);
    if (status === 'network') this.opts.onRestError?.(status);
    return toSinkError(e, what);
  }
}
