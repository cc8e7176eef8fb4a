import type { StatusView } from '../../notifier/types.js';
import { withNames } from '../../chat/people.js';
import type { Reply } from '../../chat/types.js';

/** Reply / StatusView → the terminal's lines. Pure. People are shown by name (a user's id is their name here). */

const TONE_MARK: Record<Reply['tone'], string> = { info: 'ℹ', success: '✔', warning: '⚠', error: '✖' };
const STATE_MARK: Record<StatusView['state'], string> = {
  awaiting_approval: '⏸',
  queued: '…',
  running: '▶',
  succeeded: '✔',
  failed: '✖',
  cancelled: '⊘',
};

export function replyLines(reply: Reply): string[] {
  const visibility = reply.visibility === 'ephemeral' ? ' (only you)' : '';
  return [`${TONE_MARK[reply.tone]} ${withNames(reply.title)}${visibility}`, ...reply.lines.map(withNames)];
}

/** `[#######.............] 35%` */
export function progressBar(fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.round(f * 100)}%`;
}

export function statusLines(view: StatusView): string[] {
  const lines = [`${STATE_MARK[view.state]} ${view.title}`, ...view.lines];
  if (view.state === 'running' && view.progress?.fraction !== undefined) {
    lines.push(`${progressBar(view.progress.fraction)} ${view.progress.step}`);
  }
  return lines;
}
