import { z } from 'zod';

/**
 * Free text: what users may type (a snapshot description), and text cut or shown where it could
 * do harm (a chat message, a terminal).
 *
 * Lengths are counted in code points, the unit Discord counts its limits in (its API is Python
 * 3), and text is only ever cut between code points: a cut never leaves half a surrogate pair,
 * which Discord refuses (it stores UTF-8, where a lone surrogate cannot exist).
 */

/** The longest snapshot description (docs/commands.md: `/snapshot create description`). */
export const MAX_DESCRIPTION = 500;

/**
 * Characters one-line text may not hold: C0 controls (U+0000–U+001F, tab and newline
 * included), DEL, C1 controls (U+0080–U+009F), the line and paragraph separators, and the
 * bidirectional embedding / override / isolate controls (they can make text read in another
 * order than it is stored: "Trojan Source").
 */
export function isControlChar(codePoint: number): boolean {
  return (
    codePoint <= 0x1f ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    codePoint === 0x2028 ||
    codePoint === 0x2029 ||
    (codePoint >= 0x202a && codePoint <= 0x202e) ||
    (codePoint >= 0x2066 && codePoint <= 0x2069)
  );
}

const C0_NAMES: Record<number, string> = { 0x00: 'NUL', 0x09: 'tab', 0x0a: 'newline', 0x0d: 'carriage return', 0x1b: 'ESC', 0x7f: 'DEL' };

const hex = (cp: number) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why `s` is not acceptable one-line text, naming the first offending character and its
 * position (1-based, in characters), or null when it is fine.
 */
export function controlCharProblem(s: string): string | null {
  let position = 0;
  for (const ch of s) {
    position += 1;
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) return `holds an unpaired UTF-16 surrogate (${hex(cp)}) at character ${position}`;
    if (isControlChar(cp)) {
      const name = C0_NAMES[cp];
      return `must not contain control characters: ${hex(cp)}${name ? ` (${name})` : ''} at character ${position}`;
    }
  }
  return null;
}

/** Length in code points (a surrogate pair counts once), as Discord counts. */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i += 1;
    }
    n += 1;
  }
  return n;
}

/** One line of free text of at most `max` characters, without control characters. */
export function oneLineText(max: number) {
  return z.string().superRefine((s, ctx) => {
    const problem = controlCharProblem(s);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    else if (codePointLength(s) > max) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be at most ${max} characters` });
  });
}

/** A snapshot description: the slash command and the job payload use this one schema. */
export const descriptionSchema = oneLineText(MAX_DESCRIPTION).describe('snapshot description');

/**
 * `text` shortened to at most `max` code points, ending with `ellipsis` when something was cut.
 * Cuts between code points only, so the result is valid Unicode whenever the input was.
 */
export function cut(text: string, max: number, ellipsis = '…'): string {
  if (max <= 0) return '';
  const points = Array.from(text);
  if (points.length <= max) return text;
  const room = max - codePointLength(ellipsis);
  if (room <= 0) return points.slice(0, max).join('');
  return points.slice(0, room).join('') + ellipsis;
}

/**
 * Text with every control character (as `isControlChar`) shown as an escape — `\x1b`,
 * `\u202e` — and any unpaired surrogate replaced by U+FFFD, so it can be printed on a terminal
 * or posted to chat without acting on either. `keep` lists characters left as they are (a
 * multi-line block keeps `\n`).
 */
export function visibleControls(text: string, keep = ''): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd';
    else if (isControlChar(cp) && !keep.includes(ch)) out += cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/** Bytes of one code point in UTF-8 (a lone surrogate is stored as U+FFFD: 3 bytes). */
function utf8Bytes(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** The length of `text` in UTF-8 bytes, as SQLite stores it. */
export function utf8Length(text: string): number {
  let n = 0;
  for (const ch of text) n += utf8Bytes(ch.codePointAt(0)!);
  return n;
}

/**
 * `text` shortened to at most `maxBytes` UTF-8 bytes (what a stored row costs), ending with `…`
 * when something was cut; like `cut`, only between code points.
 */
export function cutUtf8(text: string, maxBytes: number): string {
  if (utf8Length(text) <= maxBytes) return text;
  const room = maxBytes - 3; // the ellipsis
  if (room < 0) return '';
  let used = 0;
  let out = '';
  for (const ch of text) {
    const b = utf8Bytes(ch.codePointAt(0)!);
    if (used + b > room) break;
    used += b;
    out += ch;
  }
  return `${out}…`;
}
