import type { APIEmbed, APIEmbedField, RESTPostAPIChannelMessageJSONBody } from 'discord.js';
import type { JobState } from '../../domain/job-kinds.js';
import type { Approval, Job } from '../../jobs/types.js';
import { formatDuration, jobTitle, STATE_WORDS } from '../../notifier/render.js';
import type { StatusView } from '../../notifier/types.js';
import type { Reply } from '../types.js';

/**
 * Chat-neutral things (StatusView, Reply, an approval) → Discord message bodies. Pure: no
 * client, no clock except what the caller passes, so the exact payloads are unit-tested.
 *
 * Every body sets `allowed_mentions` explicitly: names typed by users end up in messages, and
 * only the completion message may ping anyone (its requester).
 */

/** Colours by job state (CONTRACT: status embed coloured by state). */
export const STATE_COLOURS: Record<JobState, number> = {
  queued: 0x95a5a6, // grey
  running: 0x3498db, // blue
  succeeded: 0x2ecc71, // green
  failed: 0xe74c3c, // red
  cancelled: 0xe67e22, // orange
  awaiting_approval: 0xe67e22, // orange
};

export const TONE_COLOURS: Record<Reply['tone'], number> = {
  info: 0x3498db,
  success: 0x2ecc71,
  warning: 0xe67e22,
  error: 0xe74c3c,
};


const NO_MENTIONS = { parse: [] as [] };

/** Discord's limits (embed title 256, description 4096, field value 1024). */
export function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Inline markdown escaped, so a VM called `a_b_c` is not shown in italics. */
export function escapeMd(s: string): string {
  return s.replace(/([\\*_~`|])/g, '\\$1');
}

/** `▰▰▰▰▱▱▱▱▱▱ 40%` */
export function progressBar(fraction: number, width = 10): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `${'▰'.repeat(full)}${'▱'.repeat(width - full)} ${Math.round(f * 100)}%`;
}

/** Lines of StatusView.lines that the embed already shows as fields (the rest go to the description). */
const FIELD_LINE = /^(Job #\d+ · |Requested by |Progress: |Duration: |Result: |Error: )/;

/** The job's status message: one embed coloured by state. */
export function statusEmbed(view: StatusView): APIEmbed {
  const fields: APIEmbedField[] = [
    { name: 'State', value: STATE_WORDS[view.state] ?? view.state, inline: true },
    { name: 'Requested by', value: `<@${view.requester.id}>`, inline: true },
  ];
  if (view.progress) {
    const bar = view.progress.fraction !== undefined ? `${progressBar(view.progress.fraction)} · ` : '';
    fields.push({ name: 'Progress', value: clip(`${bar}${escapeMd(view.progress.step)}`, 1024) });
  }
  if (view.durationMs !== undefined) fields.push({ name: 'Duration', value: formatDuration(view.durationMs), inline: true });
  if (view.result !== undefined) fields.push({ name: 'Result', value: clip(escapeMd(view.result), 1024) });
  if (view.error) {
    const label = view.state === 'queued' ? 'Last error' : 'Error';
    fields.push({ name: label, value: clip(`\`${view.error.code}\` ${escapeMd(view.error.message)}`, 1024) });
  }
  const notes = view.lines.filter((l) => !FIELD_LINE.test(l));
  return {
    title: clip(`#${view.jobId} ${view.title}`, 256),
    ...(notes.length ? { description: clip(notes.map(escapeMd).join('\n'), 4096) } : {}),
    color: STATE_COLOURS[view.state] ?? TONE_COLOURS.info,
    fields,
    footer: { text: `job #${view.jobId} · ${view.kind}` },
    timestamp: new Date(view.updatedAt).toISOString(),
  };
}

export function statusMessage(view: StatusView): RESTPostAPIChannelMessageJSONBody {
  return { embeds: [statusEmbed(view)], allowed_mentions: NO_MENTIONS };
}

/**
 * The completion message: mentions the requester (and only them), once. `nonce` +
 * `enforce_nonce` make Discord return the first message instead of posting a second one when the
 * same job's end is announced again (a retry after a lost response, or after a crash).
 */
export function endMessage(view: StatusView): RESTPostAPIChannelMessageJSONBody {
  const icon = view.state === 'succeeded' ? '✅' : view.state === 'failed' ? '❌' : '⏹️';
  const took = view.durationMs !== undefined ? ` in ${formatDuration(view.durationMs)}` : '';
  const detail =
    view.state === 'succeeded' && view.result ? `: ${view.result}` : view.error ? `: ${view.error.code} — ${view.error.message}` : '';
  const text = `${icon} <@${view.requester.id}> job #${view.jobId} ${STATE_WORDS[view.state]}${took} — ${escapeMd(view.title)}${escapeMd(detail)}`;
  return {
    content: clip(escapeMentionsExcept(text), 2000),
    allowed_mentions: { parse: [], users: [view.requester.id] },
    nonce: `end-${view.jobId}`,
    enforce_nonce: true,
  };
}

/** Neutralises @everyone / @here typed into names (allowed_mentions already blocks the ping). */
function escapeMentionsExcept(s: string): string {
  return s.replace(/@(everyone|here)/g, '@\u200b$1');
}

/** Lines that look like a table (aligned columns) are shown in a code block, the rest escaped. */
function linesToMarkdown(lines: readonly string[]): string {
  if (lines.length === 0) return '';
  const tabular = lines.some((l) => /\S {2,}\S/.test(l));
  if (tabular) return `\`\`\`\n${lines.join('\n').replace(/```/g, "'''")}\n\`\`\``;
  return lines.map(escapeMd).join('\n');
}

/** A command's reply (ephemeral answer, refusal, or public approval request) as one embed. */
export function replyEmbed(reply: Reply): APIEmbed {
  let description = linesToMarkdown(reply.lines);
  if (description.length > 4096) {
    // A long code block cut in the middle would lose its closing fence.
    description = description.startsWith('```') ? `${clip(description.slice(0, -4), 4090)}\n\`\`\`` : clip(description, 4096);
  }
  return {
    title: clip(reply.title, 256),
    ...(description ? { description } : {}),
    color: TONE_COLOURS[reply.tone],
    ...(reply.code ? { footer: { text: reply.code } } : reply.jobId !== undefined ? { footer: { text: `job #${reply.jobId}` } } : {}),
  };
}

export function replyMessage(reply: Reply): { embeds: APIEmbed[]; allowed_mentions: typeof NO_MENTIONS } {
  return { embeds: [replyEmbed(reply)], allowed_mentions: NO_MENTIONS };
}

/** The one line that replaces the deferred (ephemeral) reply when the real answer is public. */
export function publicAck(reply: Reply): string {
  return reply.approvalJobId !== undefined
    ? `Job #${reply.approvalJobId} is waiting for approval: the request is posted in this channel.`
    : 'Posted in this channel.';
}

const DECISION: Record<Exclude<Approval['state'], 'pending'>, { word: string; colour: number }> = {
  approved: { word: 'Approved', colour: STATE_COLOURS.succeeded },
  rejected: { word: 'Rejected', colour: STATE_COLOURS.failed },
  expired: { word: 'Expired', colour: STATE_COLOURS.queued },
  cancelled: { word: 'Cancelled', colour: STATE_COLOURS.queued },
};

/** The approval request after its decision: approved / rejected by someone, expired, or cancelled. */
export function approvalDecisionMessage(approval: Approval, job: Pick<Job, 'id' | 'kind' | 'payload' | 'requester'>): RESTPostAPIChannelMessageJSONBody {
  if (approval.state === 'pending') throw new Error('approvalDecisionMessage: the approval is still pending');
  const d = DECISION[approval.state];
  const who = approval.decidedBy ? ` by <@${approval.decidedBy}>` : '';
  const when = approval.decidedAt ? ` <t:${Math.floor(approval.decidedAt / 1000)}:f>` : '';
  const lines = [
    `Requested by <@${job.requester.id}>.`,
    approval.state === 'expired' ? 'Nobody decided in time: the job was cancelled.' : `${d.word}${who}${when}.`,
  ];
  if (approval.state === 'approved') lines.push('The job is queued; its status message follows it.');
  return {
    embeds: [
      {
        title: clip(`${d.word}: job #${job.id} ${jobTitle(job)}`, 256),
        description: lines.join('\n'),
        color: d.colour,
        footer: { text: `job #${job.id} · approval ${approval.state}` },
      },
    ],
    allowed_mentions: NO_MENTIONS,
  };
}
