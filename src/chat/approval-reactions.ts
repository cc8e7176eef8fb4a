import { isKvmopsError } from '../domain/errors.js';
import type { Approval, Decision } from '../jobs/types.js';
import { hasRole } from './roles.js';
import type { Services } from './services.js';
import type { ChatUser, ReactionEvent, ReactionOutcome } from './types.js';

/**
 * Approval by reaction or button (docs/commands.md), the same policy for Discord and the shell:
 *
 * - the approval is found by the message the reaction is on; any other message is not ours;
 * - only ✅ (approve: the job is queued) and ❌ (reject: the job is cancelled) mean anything;
 * - bots never count (the bot itself adds ✅ and ❌ to every request);
 * - while two-person is on, the requester's own reactions do not count, even as an approver;
 * - only members holding the approver role count; everyone else is ignored;
 * - the first counted decision wins: the store's `decide` is atomic and refuses a second one
 *   (`already-decided`), so two approvers reacting at once cannot both decide.
 *
 * Adapters may remove ignored reactions when they can (Discord: manage messages); the outcome's
 * reason tells them why it was ignored. A button click goes through `judge` / `decideAs`, the
 * same rule; the adapter tells the clicker why a click did not count.
 */

export const APPROVE = '✅';
export const REJECT = '❌';

/** Platforms differ on the emoji variation selector (U+FE0F); compare without it. */
export function decisionOf(emoji: string): Decision | undefined {
  const e = emoji.replace(/\uFE0F/g, '');
  if (e === APPROVE) return 'approve';
  if (e === REJECT) return 'reject';
  return undefined;
}

type Ignored = Extract<ReactionOutcome, { kind: 'ignored' }>;
const ignored = (reason: Ignored['reason']): Ignored => ({ kind: 'ignored', reason });

/**
 * Whether `user` may decide on `approval` now: null if the decision counts, or why not. The one
 * rule for every way of deciding — a reaction, a button click, the reconcile at start-up — so
 * an adapter can answer a click that does not count before it writes anything.
 */
export function judge(approval: Approval, user: ChatUser, services: Pick<Services, 'config' | 'now'>): Ignored | null {
  if (user.bot) return ignored('bot');
  // Decided, or past its expiry but not yet swept: a late ✅ must not revive a request.
  if (approval.state !== 'pending' || approval.expiresAt <= services.now()) return ignored('already-decided');
  if (services.config.twoPerson && user.id === approval.requesterId) return ignored('requester');
  if (!hasRole(user, 'approver')) return ignored('not-approver');
  return null;
}

/**
 * Judges, then decides: the store's `decide` is atomic, so of two approvers deciding at once
 * one wins and the other gets `already-decided`. `how` goes into the audit row (emoji or button,
 * the message, and the path: reaction, button, reconcile).
 */
export async function decideAs(
  approval: Approval,
  user: ChatUser,
  decision: Decision,
  services: Services,
  how: { via: 'reaction' | 'reconcile' | 'button'; emoji?: string },
): Promise<ReactionOutcome> {
  const refusal = judge(approval, user, services);
  if (refusal) return refusal;
  let jobId: number;
  try {
    const { job } = await services.approvals.decide(approval.jobId, decision, { id: user.id, name: user.name });
    jobId = job.id;
  } catch (e) {
    if (isKvmopsError(e, 'already-decided')) return ignored('already-decided');
    throw e;
  }
  try {
    await services.audit.record({
      at: services.now(),
      userId: user.id,
      userName: user.name,
      command: decision === 'approve' ? 'approval approve' : 'approval reject',
      options: { ...(how.emoji !== undefined ? { emoji: how.emoji } : {}), messageId: approval.messageId, via: how.via },
      outcome: 'accepted',
      jobId,
    });
  } catch (e) {
    services.log?.error({ err: e, jobId }, 'audit write failed');
  }
  return decision === 'approve' ? { kind: 'approved', jobId } : { kind: 'rejected', jobId };
}

/** The policy for a known approval and an emoji: counts it or says why not. */
async function apply(approval: Approval, user: ChatUser, emoji: string, services: Services, via: 'reaction' | 'reconcile'): Promise<ReactionOutcome> {
  const decision = decisionOf(emoji);
  if (!decision) return ignored('other-emoji');
  return decideAs(approval, user, decision, services, { via, emoji });
}

/** A reaction added to a message. Errors other than `already-decided` propagate (the adapter logs them). */
export async function handleReaction(event: ReactionEvent, services: Services): Promise<ReactionOutcome> {
  if (!decisionOf(event.emoji)) return ignored('other-emoji'); // no store read for 🎉 on any message
  const approval = await services.approvals.byMessage(event.messageId);
  if (!approval) return ignored('not-an-approval');
  return apply(approval, event.user, event.emoji, services, 'reaction');
}

export interface ReconcileResult {
  jobId: number;
  /** The counted decision, or why nothing counted. */
  outcome: ReactionOutcome;
}

/**
 * On start-up: reactions added while the bot was down never arrive as events, so the adapter
 * reads the reactions on every pending request's message and they go through the same policy.
 *
 * Their order is lost, so when both an approver's ❌ and an approver's ✅ are there, ❌ is tried
 * first: for a destructive operation an unclear decision must not run it. At most one decision
 * counts per approval. A request whose message cannot be read is skipped (logged) so one
 * deleted message does not block the others.
 */
export async function reconcilePending(
  services: Services,
  readReactions: (approval: Approval) => Promise<Array<{ user: ChatUser; emoji: string }>>,
): Promise<ReconcileResult[]> {
  const results: ReconcileResult[] = [];
  for (const approval of await services.approvals.listPending()) {
    if (approval.messageId === null) continue; // the request was never posted; nothing to read
    let reactions: Array<{ user: ChatUser; emoji: string }>;
    try {
      reactions = await readReactions(approval);
    } catch (e) {
      services.log?.warn({ err: e, jobId: approval.jobId }, 'could not read reactions of a pending approval');
      continue;
    }
    const ordered = [
      ...reactions.filter((r) => decisionOf(r.emoji) === 'reject'),
      ...reactions.filter((r) => decisionOf(r.emoji) === 'approve'),
    ];
    let outcome: ReactionOutcome = ignored('not-approver');
    for (const r of ordered) {
      outcome = await apply(approval, r.user, r.emoji, services, 'reconcile');
      if (outcome.kind !== 'ignored' || outcome.reason === 'already-decided') break;
    }
    results.push({ jobId: approval.jobId, outcome });
  }
  return results;
}
