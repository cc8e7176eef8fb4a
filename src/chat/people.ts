/**
 * People inside chat-neutral text. A reply says "Requested by X"; what X looks like is the
 * adapter's business: Discord shows a user mention `<@id>` (rendered with the member's current
 * name, allowed_mentions keeping it from pinging), never the display name, which anyone can
 * set to "root" or to markup; the shell shows the name.
 *
 * So the chat core writes `person(user)` into its text, a marker that adapters find with
 * `splitPeople` and draw their way. The marker is made of control characters, which nothing a
 * user types can contain (free text with control characters is refused: src/domain/text.ts).
 */

import { formatTime } from '../domain/duration.js';
import { renderMoments } from '../domain/moment.js';

export { moment, renderMoments } from '../domain/moment.js';

export interface Person {
  id: string;
  name: string;
}

const OPEN = '\u0001';
const SEP = '\u001f';
const CLOSE = '\u0002';
const MARKER = /\u0001([^\u0000-\u001f]*)\u001f([^\u0000-\u001f]*)\u0002/g;
const CONTROLS = /[\u0000-\u001f]/g;

/** `user` as a marker inside text. */
export function person(p: Person): string {
  return `${OPEN}${p.id.replace(CONTROLS, '')}${SEP}${p.name.replace(CONTROLS, '')}${CLOSE}`;
}

/** Text split into plain pieces and the people marked in it, in order. */
export function splitPeople(text: string): Array<string | Person> {
  const out: Array<string | Person> = [];
  let at = 0;
  for (const m of text.matchAll(MARKER)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    out.push({ id: m[1] ?? '', name: m[2] ?? '' });
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

/** Text with each person drawn by `draw` and each plain piece by `plain`. */
export function renderPeople(text: string, draw: (p: Person) => string, plain: (s: string) => string = (s) => s): string {
  return splitPeople(text)
    .map((piece) => (typeof piece === 'string' ? plain(piece) : draw(piece)))
    .join('');
}

/** People shown by name and moments as UTC text (the shell, logs). */
export function withNames(text: string): string {
  return renderPeople(text, (p) => p.name, (s) => renderMoments(s, formatTime));
}
