import { createHash } from 'node:crypto';
import {
  ButtonStyle,
  ComponentType,
  type APIActionRowComponent,
  type APIAllowedMentions,
  type APIButtonComponentWithCustomId,
  type APIEmbed,
  type APIEmbedField,
  type RESTPostAPIChannelMessageJSONBody,
} from 'discord.js';
import type { JobState } from '../../domain/job-states.js';
import { codePointLength, cut } from '../../domain/text.js';
import type { Approval, Job } from '../../chat/adapter-port.js';
import { formatDuration } from '../../domain/duration.js';
import { describeJob } from '../../kinds/index.js';
import { STATE_WORDS } from '../../notifier/render.js';
import type { StatusView } from '../../notifier/types.js';
import { renderMoments, renderPeople } from '../../chat/people.js';
import { formatTime } from '../../domain/duration.js';
import type { Choice, Reply } from '../../chat/types.js';
import { codeBlock, cutMarkdown, escapeMarkdown } from './markdown.js';

/**
 * Chat-neutral things (StatusView, Reply, an approval) → Discord message bodies. Pure: no
 * client, no clock except what the caller passes, so the exact payloads are unit-tested.
 *
 * The rules every body follows:
 * - text kvmops did not write (names, descriptions, errors, display names) is escaped
 *   (markdown.ts); people are user mentions `<@id>`, never display names;
 * - `allowed_mentions` is explicit: nothing pings (`NO_MENTIONS`) except the completion
 *   message, which pings its requester (docs/commands.md: "a new message mentions the requester");
 * - everything is cut to Discord's limits (`LIMITS`, counted in code points) on code points;
 * - a create that a retry could repeat carries a nonce with `enforce_nonce` (`nonceFor`).
 */

/** Discord's limits (docs: "Embed Limits", message content, autocomplete), in code points. */
export const LIMITS = {
  content: 2000,
  embedTitle: 256,
  embedDescription: 4096,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  authorName: 256,
  fields: 25,
  /** Title, description, field names and values, footer and author name of all embeds together. */
  embedTotal: 6000,
  choices: 25,
  choiceName: 100,
  choiceValue: 100,
  nonce: 25,
} as const;

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

/** Mentions in the text render (as names) but ping nobody. */
export const NO_MENTIONS = { parse: [] } satisfies APIAllowedMentions;

/** A user as a mention (`<@id>`); an id that is not a Discord snowflake is shown as text. */
export function mention(userId: string): string {
  return /^\d{1,20}$/.test(userId) ? `<@${userId}>` : escapeMarkdown(`@${userId}`);
}

/** A moment as a Discord timestamp: each reader sees it in their own time zone. */
export function timestamp(ms: number, style: 'f' | 'R' = 'f'): string {
  return `<t:${Math.floor(ms / 1000)}:${style}>`;
}

/** Chat-neutral text as Discord markdown: escaped, with its people as mentions and its moments as timestamps. */
export function discordText(text: string): string {
  return renderPeople(text, (p) => mention(p.id), (s) => renderMoments(s, (ms) => timestamp(ms), escapeMarkdown));
}

/**
 * The nonce of a message create that may be sent twice (a 5xx after Discord wrote it, then
 * discord.js retrying): with `enforce_nonce`, Discord returns the first message for the same
 * author and nonce within a few minutes instead of posting another. At most 25 characters:
 * longer ids are hashed. A job's messages are keyed by its request id, never its number: job
 * numbers repeat after a restore or in a second database on the same bot token, and Discord
 * would answer a new job's message with an old one's.
 */
export function nonceFor(kind: 'approval' | 'status' | 'st' | 'end' | 'reply', id: string | number): string {
  const plain = `${kind}-${id}`;
  if (plain.length <= LIMITS.nonce) return plain;
  return `${kind}-${createHash('sha256').update(String(id)).digest('base64url')}`.slice(0, LIMITS.nonce);
}

/** `▰▰▰▰▱▱▱▱▱▱ 40%` */
export function progressBar(fraction: number, width = 10): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `${'▰'.repeat(full)}${'▱'.repeat(width - full)} ${Math.round(f * 100)}%`;
}

/**
 * An embed cut to Discord's limits: every part to its own, at most 25 fields, empty field names
 * and values filled (Discord requires both), then the whole within 6000 by shortening, in this
 * order, the description, the field values and then names (last field first), the footer, the
 * author and the title.
 */
export function fitEmbed(embed: APIEmbed): APIEmbed {
  const out: APIEmbed = { ...embed };
  if (out.title !== undefined) out.title = cutMarkdown(out.title, LIMITS.embedTitle);
  if (out.description !== undefined) out.description = cutMarkdown(out.description, LIMITS.embedDescription);
  if (out.footer) out.footer = { ...out.footer, text: cut(out.footer.text, LIMITS.footer) };
  if (out.author) out.author = { ...out.author, name: cut(out.author.name, LIMITS.authorName) };
  const fields = (out.fields ?? []).slice(0, LIMITS.fields).map((f) => ({
    ...f,
    name: cutMarkdown(f.name || '—', LIMITS.fieldName),
    value: cutMarkdown(f.value || '—', LIMITS.fieldValue),
  }));
  if (out.fields) out.fields = fields;
  // Each slot reads and writes one part; `min` is what it keeps at the least.
  const slots: Array<{ get(): string | undefined; set(s: string): void; min: number; markdown: boolean }> = [
    { get: () => out.description, set: (s) => (out.description = s), min: 0, markdown: true },
    ...fields.map((f) => ({ get: () => f.value, set: (s: string) => (f.value = s), min: 1, markdown: true })).reverse(),
    ...fields.map((f) => ({ get: () => f.name, set: (s: string) => (f.name = s), min: 1, markdown: true })).reverse(),
    { get: () => out.footer?.text, set: (s) => (out.footer = { ...out.footer, text: s }), min: 1, markdown: false },
    { get: () => out.author?.name, set: (s) => (out.author = { ...out.author, name: s }), min: 1, markdown: false },
    { get: () => out.title, set: (s) => (out.title = s), min: 1, markdown: true },
  ];
  let excess = embedSize(out) - LIMITS.embedTotal;
  for (const slot of slots) {
    if (excess <= 0) break;
    const text = slot.get();
    if (text === undefined) continue;
    const len = codePointLength(text);
    const keep = Math.max(slot.min, len - excess);
    if (keep >= len) continue;
    slot.set(slot.markdown ? cutMarkdown(text, keep) : cut(text, keep));
    excess -= len - keep;
  }
  if (out.description === '') delete out.description;
  return out;
}

function embedSize(e: APIEmbed): number {
  const parts = [e.title, e.description, e.footer?.text, e.author?.name, ...(e.fields ?? []).flatMap((f) => [f.name, f.value])];
  return parts.reduce((n, p) => n + (p ? codePointLength(p) : 0), 0);
}

/**
 * Autocomplete choices Discord accepts: a name of 1–100 characters and a value of at most 100,
 * 25 at most. A longer one is dropped, not cut: a cut value would name something else, and a
 * single bad choice makes Discord refuse the whole answer (50035), leaving the user none.
 */
export function autocompleteChoices(choices: readonly Choice[]): Choice[] {
  return choices
    .filter((c) => {
      const name = codePointLength(c.name);
      return name >= 1 && name <= LIMITS.choiceName && codePointLength(c.value) <= LIMITS.choiceValue;
    })
    .slice(0, LIMITS.choices);
}

/** Lines of StatusView.lines that the embed already shows as fields (the rest go to the description). */
const FIELD_LINE = /^(Job #\d+ · |Requested by |Progress: |Duration: |Result: |Error: |Last error: )/;

/** The job's status message: one embed coloured by state. */
export function statusEmbed(view: StatusView): APIEmbed {
  if (view.summary) return summaryEmbed(view);
  const fields: APIEmbedField[] = [
    { name: 'State', value: STATE_WORDS[view.state] ?? view.state, inline: true },
    { name: 'Requested by', value: mention(view.requester.id), inline: true },
  ];
  if (view.progress) {
    const bar = view.progress.fraction !== undefined ? `${progressBar(view.progress.fraction)} · ` : '';
    fields.push({ name: 'Progress', value: `${bar}${discordText(view.progress.step)}` });
  }
  if (view.durationMs !== undefined) fields.push({ name: 'Duration', value: formatDuration(view.durationMs), inline: true });
  if (view.result !== undefined) fields.push({ name: 'Result', value: discordText(view.result) });
  if (view.error) {
    const label = view.state === 'queued' ? 'Last error' : 'Error';
    fields.push({ name: label, value: `\`${view.error.code}\` ${discordText(view.error.message)}` });
  }
  const notes = view.lines.filter((l) => !FIELD_LINE.test(l));
  return fitEmbed({
    title: discordText(`#${view.jobId} ${view.title}`),
    ...(notes.length ? { description: notes.map(discordText).join('\n') } : {}),
    color: STATE_COLOURS[view.state] ?? TONE_COLOURS.info,
    fields,
    footer: { text: `job #${view.jobId} · ${view.kind}` },
    timestamp: new Date(view.updatedAt).toISOString(),
  });
}

/**
 * A crowded channel's summary message (src/notifier/crowd.ts): its lines as the description —
 * a line per job, or, for many, job ids listed by state — and no per-job field or button.
 */
function summaryEmbed(view: StatusView): APIEmbed {
  const size = view.summary?.jobIds.length ?? 0;
  return fitEmbed({
    title: discordText(view.title),
    description: view.lines.map(discordText).join('\n'),
    color: STATE_COLOURS[view.state] ?? TONE_COLOURS.info,
    footer: { text: `channel summary · ${size} job${size === 1 ? '' : 's'} · ${view.summary?.ended ?? 0} ended` },
    timestamp: new Date(view.updatedAt).toISOString(),
  });
}

/** States in which a job can still be cancelled: its status message carries a Cancel button. */
const CANCELLABLE: ReadonlySet<JobState> = new Set(['awaiting_approval', 'queued', 'running']);

/**
 * The status message: the embed, and while the job can still be stopped a Cancel button (the
 * same rule as `/job cancel`: requester or admin). Every body sets `components`, so the edit
 * that shows the job's end takes the button away.
 */
export function statusMessage(view: StatusView): RESTPostAPIChannelMessageJSONBody {
  // A batch's message has no Cancel: its button would name the lead job only (`/job cancel` stops one job).
  const components = CANCELLABLE.has(view.state) && !view.batch && !view.summary ? [buttonRow([button('cancel', view, 'Cancel', ButtonStyle.Secondary, false)])] : [];
  return { embeds: [statusEmbed(view)], allowed_mentions: NO_MENTIONS, components };
}

// ---- buttons ------------------------------------------------------------------------------------

export type ButtonAction = 'approve' | 'reject' | 'cancel';

/**
 * `approve:<job id>:<request id>`: the job number finds the job, the request id (random, never
 * reused: src/jobs/enqueue.ts) proves the button was made for that very job — a custom id
 * edited to another job number, or a button from a restored or other database whose numbers
 * repeat, does not match the stored job and is refused. No state lives in memory: a click on a
 * message posted before a restart works the same. At most 100 characters (Discord's limit).
 */
export function buttonId(action: ButtonAction, job: { jobId: number; requestId: string }): string {
  return `${action}:${job.jobId}:${job.requestId}`;
}

const BUTTON_ID = /^(approve|reject|cancel):(\d{1,15}):([A-Za-z0-9._-]{1,80})$/;

export function parseButtonId(customId: string): { action: ButtonAction; jobId: number; requestId: string } | null {
  const m = BUTTON_ID.exec(customId);
  if (!m) return null;
  return { action: m[1] as ButtonAction, jobId: Number(m[2]), requestId: m[3]! };
}

function button(
  action: ButtonAction,
  job: { jobId: number; requestId: string },
  label: string,
  style: APIButtonComponentWithCustomId['style'],
  disabled: boolean,
): APIButtonComponentWithCustomId {
  return { type: ComponentType.Button, custom_id: buttonId(action, job), label, style, disabled };
}

function buttonRow(buttons: APIButtonComponentWithCustomId[]): APIActionRowComponent<APIButtonComponentWithCustomId> {
  return { type: ComponentType.ActionRow, components: buttons };
}

/** Approve / Reject beside the ✅ / ❌ reactions; disabled once the request is decided. */
export function approvalButtons(job: { jobId: number; requestId: string }, disabled: boolean): APIActionRowComponent<APIButtonComponentWithCustomId> {
  return buttonRow([button('approve', job, 'Approve', ButtonStyle.Success, disabled), button('reject', job, 'Reject', ButtonStyle.Danger, disabled)]);
}

// ---- pages --------------------------------------------------------------------------------------

/** What a page button runs again: the command, its options, and where the page starts. */
export interface PageTarget {
  command: string;
  subcommand: string | null;
  options: Record<string, PageOption>;
  offset: number;
}

/** The option values a page carries: text, and the booleans and integers of a list's filters (`/job list mine:true`). */
export type PageOption = string | number | boolean;

/**
 * An option in the id's query string, its type kept in the key so a click gives the router the
 * same value the first run had: `filter=web-*`, `mine!b=1`, `count!n=3`. `!` cannot start or
 * be in an option name (Discord's names are `[-_a-z0-9]`), so a key cannot be forged into
 * another type's.
 */
function encodeOption(k: string, v: PageOption): [string, string] {
  if (typeof v === 'boolean') return [`${k}!b`, v ? '1' : '0'];
  if (typeof v === 'number') return [`${k}!n`, String(v)];
  return [k, v];
}

function decodeOption(k: string, v: string): [string, PageOption] | null {
  const m = /^([-_a-z0-9]{1,32})(?:!([bn]))?$/.exec(k);
  if (!m) return null;
  if (m[2] === 'b') return v === '1' || v === '0' ? [m[1]!, v === '1'] : null;
  if (m[2] === 'n') return /^-?\d{1,15}$/.test(v) ? [m[1]!, Number(v)] : null;
  return [m[1]!, v];
}

/**
 * `page:<offset>:<command>:<subcommand>:<options as a query string>` — the whole invocation, so
 * a click is a new run of the same read from that offset (authorized, rate-limited and audited
 * as the clicker's own), and nothing lives in memory: a click after a restart works. null when
 * Discord's 100 characters do not fit it — the page then goes without buttons rather than with
 * wrong ones.
 */
export function pageButtonId(target: PageTarget): string | null {
  const entries = Object.entries(target.options)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => encodeOption(k, v));
  const id = `page:${target.offset}:${target.command}:${target.subcommand ?? ''}:${new URLSearchParams(entries).toString()}`;
  return id.length <= 100 ? id : null;
}

const PAGE_ID = /^page:(\d{1,9}):([a-z0-9_-]{1,32}):([a-z0-9_-]{0,32}):(.*)$/;

export function parsePageId(customId: string): PageTarget | null {
  const m = PAGE_ID.exec(customId);
  if (!m) return null;
  const options: Record<string, PageOption> = {};
  for (const [k, v] of new URLSearchParams(m[4])) {
    const o = decodeOption(k, v);
    if (!o || o[0] in options) return null;
    options[o[0]] = o[1];
  }
  return { offset: Number(m[1]), command: m[2]!, subcommand: m[3] || null, options };
}

/**
 * Previous / Next under a page of a longer list (Reply.page), or nothing when the list fits in
 * one page, when an option is not text, a boolean or a number, or when the ids would exceed
 * Discord's 100 characters (a very long host name and filter together). The button with
 * nowhere to go is disabled, so the row keeps its shape.
 */
export function pageButtons(reply: Reply, inv: { command: string; subcommand?: string | null | undefined; options: Readonly<Record<string, unknown>> }): APIActionRowComponent<APIButtonComponentWithCustomId>[] {
  const page = reply.page;
  if (!page || (page.offset === 0 && page.total <= page.limit)) return [];
  const options: Record<string, PageOption> = {};
  for (const [k, v] of Object.entries(inv.options)) {
    if (v === undefined) continue;
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isSafeInteger(v))) return [];
    options[k] = v;
  }
  const at = (offset: number) => pageButtonId({ command: inv.command, subcommand: inv.subcommand ?? null, options, offset });
  const prevAt = Math.max(0, page.offset - page.limit);
  const nextAt = page.offset + page.limit;
  const prev = at(prevAt);
  const next = at(nextAt);
  if (prev === null || next === null) return [];
  return [
    buttonRow([
      { type: ComponentType.Button, custom_id: prev, label: 'Previous', style: ButtonStyle.Secondary, disabled: page.offset === 0 },
      { type: ComponentType.Button, custom_id: next, label: 'Next', style: ButtonStyle.Secondary, disabled: nextAt >= page.total && !page.capped },
    ]),
  ];
}

/** Discord role ids are snowflakes; anything else is not mentioned. */
const SNOWFLAKE = /^\d{1,20}$/;

/**
 * The approval request: the reply's embed, Approve / Reject buttons, and — unless
 * KVMOPS_NOTIFY_APPROVERS=false (`approverRoles` empty) — a mention of the approver role(s) in
 * the content, with `allowed_mentions` letting exactly those roles ping (no user, no @everyone).
 */
export function approvalRequestMessage(reply: Reply, nonce: string, approverRoles: readonly string[]): RESTPostAPIChannelMessageJSONBody {
  const jobId = reply.approvalJobId;
  if (jobId === undefined || reply.requestId === undefined) throw new Error('approvalRequestMessage: the reply is not an approval request');
  const roles = [...new Set(approverRoles.filter((r) => SNOWFLAKE.test(r)))].slice(0, 100);
  const body: RESTPostAPIChannelMessageJSONBody = { ...publicMessage(reply, nonce), components: [approvalButtons({ jobId, requestId: reply.requestId }, false)] };
  if (roles.length === 0) return body;
  return {
    ...body,
    content: cutMarkdown(`${roles.map((r) => `<@&${r}>`).join(' ')} approval needed for job #${jobId}`, LIMITS.content),
    allowed_mentions: { parse: [], roles },
  };
}

/** Why a click (or reaction) did not count, for the clicker only. */
export const CLICK_REFUSALS = {
  requester: 'You requested this: another member with the approver role has to decide (two-person rule).',
  'not-approver': 'Approver role needed: only members with the approver role can approve or reject.',
  'already-decided': 'This request is already decided or has expired.',
  bot: 'Bots cannot decide on approval requests.',
} as const;

/**
 * The completion message: mentions the requester (and only them), once. `nonce` +
 * `enforce_nonce` make Discord return the first message instead of posting a second one when the
 * same job's end is announced again (a retry after a lost response, or after a crash).
 */
export function endMessage(view: StatusView): RESTPostAPIChannelMessageJSONBody {
  if (view.group) return groupEndMessage(view, view.group);
  const icon = view.state === 'succeeded' ? '✅' : view.state === 'failed' ? '❌' : '⏹️';
  const took = view.durationMs !== undefined ? ` in ${formatDuration(view.durationMs)}` : '';
  const detail =
    view.state === 'succeeded' && view.result ? `: ${view.result}` : view.error ? `: ${view.error.code} — ${view.error.message}` : '';
  const what = view.batch ? `batch #${view.jobId} (${view.batch.size} jobs)` : `job #${view.jobId}`;
  const text = `${icon} ${mention(view.requester.id)} ${what} ${STATE_WORDS[view.state]}${took} — ${discordText(`${view.title}${detail}`)}`;
  return {
    content: cutMarkdown(text, LIMITS.content),
    allowed_mentions: { parse: [], users: [view.requester.id] },
    nonce: nonceFor('end', view.requestId),
    enforce_nonce: true,
  };
}

/**
 * ONE mention for several ended jobs of one requester (a crowded channel): the tally, then every
 * job it covers by id under its state (a failed one with its error code), so the requester can
 * `/job status` any of them. Nonce keyed by the first job's request id, as a job's own mention.
 */
function groupEndMessage(view: StatusView, group: NonNullable<StatusView['group']>): RESTPostAPIChannelMessageJSONBody {
  const icon = view.state === 'succeeded' ? '✅' : view.state === 'failed' ? '❌' : '⏹️';
  const states: JobState[] = ['failed', 'cancelled', 'succeeded'];
  const parts = states
    .map((s) => ({ s, jobs: group.filter((j) => j.state === s) }))
    .filter((p) => p.jobs.length > 0)
    .map(({ s, jobs }) => `${jobs.length} ${STATE_WORDS[s]}: ${jobs.map((j) => (j.error && s !== 'succeeded' ? `#${j.jobId} (${j.error.code})` : `#${j.jobId}`)).join(', ')}`);
  const text = `${icon} ${mention(view.requester.id)} ${group.length} of your jobs ended — ${parts.join('; ')}`;
  return {
    content: cutMarkdown(text, LIMITS.content),
    allowed_mentions: { parse: [], users: [view.requester.id] },
    nonce: nonceFor('end', view.requestId),
    enforce_nonce: true,
  };
}

/** Lines that look like a table (aligned columns) are shown in a code block, the rest escaped. */
function linesToMarkdown(lines: readonly string[]): string {
  if (lines.length === 0) return '';
  const tabular = lines.some((l) => /\S {2,}\S/.test(l));
  // In a code block nothing renders, a mention neither: people are shown by id there.
  // Nor does a timestamp: moments are UTC text there.
  if (tabular) return codeBlock(lines.map((l) => renderPeople(l, (p) => `<@${p.id}>`, (s) => renderMoments(s, formatTime))));
  return lines.map(discordText).join('\n');
}

/** A command's reply (ephemeral answer, refusal, or public approval request) as one embed. */
export function replyEmbed(reply: Reply): APIEmbed {
  const description = linesToMarkdown(reply.lines);
  return fitEmbed({
    title: discordText(reply.title),
    ...(description ? { description } : {}),
    color: TONE_COLOURS[reply.tone],
    ...(reply.code ? { footer: { text: reply.code } } : reply.jobId !== undefined ? { footer: { text: `job #${reply.jobId}` } } : {}),
  });
}

export interface ReplyBody {
  embeds: APIEmbed[];
  allowed_mentions: typeof NO_MENTIONS;
}

export function replyMessage(reply: Reply): ReplyBody {
  return { embeds: [replyEmbed(reply)], allowed_mentions: NO_MENTIONS };
}

/**
 * A public reply posted as a channel message, once: its nonce is `nonceFor('approval', jobId)`
 * for an approval request (one request per job, however often the POST is retried) and
 * `nonceFor('reply', interactionId)` for any other public answer.
 */
export function publicMessage(reply: Reply, nonce: string): RESTPostAPIChannelMessageJSONBody {
  return { ...replyMessage(reply), nonce, enforce_nonce: true };
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

/**
 * The approval request after its decision: approved / rejected by someone, expired, or
 * cancelled, with when (a Discord timestamp: each reader sees their own time zone); its
 * buttons stay, disabled, so the message still reads as the request it was.
 */
export function approvalDecisionMessage(
  approval: Approval,
  job: Pick<Job, 'id' | 'kind' | 'payload' | 'requester' | 'requestId'> & { batchId?: number | null },
): RESTPostAPIChannelMessageJSONBody {
  if (approval.state === 'pending') throw new Error('approvalDecisionMessage: the approval is still pending');
  const d = DECISION[approval.state];
  const who = approval.decidedBy ? ` by ${mention(approval.decidedBy)}` : '';
  const when = approval.decidedAt ? ` ${timestamp(approval.decidedAt)} (${timestamp(approval.decidedAt, 'R')})` : '';
  const lines = [
    `Requested by ${mention(job.requester.id)}.`,
    approval.state === 'expired' ? `Nobody decided in time${when ? ` (expired${when})` : ''}: the job was cancelled.` : `${d.word}${who}${when}.`,
  ];
  // A batch's one request decided every job of it (src/jobs/approvals.ts): say so, not just the lead's VM.
  const batch = job.batchId !== undefined && job.batchId !== null;
  if (batch) lines.push(`The decision covers every job of batch #${job.batchId}: /job status id:${job.id} lists them.`);
  if (approval.state === 'approved') lines.push(batch ? 'The jobs are queued; each status message follows its job.' : 'The job is queued; its status message follows it.');
  return {
    embeds: [
      fitEmbed({
        title: discordText(batch ? `${d.word}: batch #${job.batchId} (${describeJob(job)}, and the other VMs of the batch)` : `${d.word}: job #${job.id} ${describeJob(job)}`),
        description: lines.join('\n'),
        color: d.colour,
        footer: { text: `job #${job.id} · approval ${approval.state}` },
      }),
    ],
    allowed_mentions: NO_MENTIONS,
    components: [approvalButtons({ jobId: job.id, requestId: job.requestId }, true)],
  };
}
