import { cut, visibleControls } from '../../domain/text.js';

/**
 * Discord markdown for text kvmops did not write itself: names, descriptions, error messages
 * from virsh, display names. Such text is shown as typed, never as markup: a description
 * `[docs](https://evil.example)` must not become a masked link, `@everyone` or `<@id>` not a
 * mention, `# big` not a header, `||x||` not a spoiler.
 *
 * Discord's parser (simple-markdown) treats a backslash before any punctuation as an escape:
 * the backslash is hidden and the character shown as itself. So escaping more than needed is
 * invisible, and escaping less is a hole. What is escaped:
 *
 * - everywhere: `\ * _ ~ \` | [ ] < > @` — emphasis, strike-through, code, spoilers, (masked)
 *   links, `<@id>` / `<#id>` / `<t:…>` / `<:emoji:id>`, and `@everyone` / `@here`;
 * - `:` of `://`, so a URL is not made a link (nor its preview fetched);
 * - at the start of a line, where they make blocks when a space follows: `#`, `##`, `###`
 *   (headers), `-#` (subtext), `-` and `+` (lists), `1.` (numbered lists: the dot is escaped).
 *
 * Control characters are shown as `\x1b`-style escapes first (a newline inside one line of
 * text could otherwise start a header); `\n` between lines is kept where lines are joined.
 */

const EVERYWHERE = /[\\*_~`|[\]<>@]/g;
const URL_COLON = /:(?=\/\/)/g;
const BLOCK_MARK = /^([ \t]*)(#{1,3}|-#|[-+])(?=[ \t])/gm;
const LIST_NUMBER = /^([ \t]*\d+)\.(?=[ \t])/gm;

export function escapeMarkdown(text: string): string {
  return visibleControls(text, '\n')
    .replace(EVERYWHERE, '\\$&')
    .replace(URL_COLON, '\\:')
    .replace(BLOCK_MARK, (_m, indent: string, mark: string) => `${indent}${mark.replace(/./g, '\\$&')}`)
    .replace(LIST_NUMBER, '$1\\.');
}

/**
 * Lines shown as they are, in a code block (aligned tables). Nothing renders inside one, so the
 * only thing to keep out is the closing fence: a zero-width space goes between backticks.
 */
export function codeBlock(lines: readonly string[]): string {
  const body = lines.map((l) => visibleControls(l).replace(/`(?=`)/g, '`\u200b')).join('\n');
  return `\`\`\`\n${body}\n\`\`\``;
}

/**
 * `text` (already markdown) cut to `max` code points, keeping it well-formed: a code block keeps
 * its closing fence, and no escape is left dangling before the ellipsis.
 */
export function cutMarkdown(text: string, max: number): string {
  if (Array.from(text).length <= max) return text;
  const fence = '\n```';
  if (text.startsWith('```') && text.endsWith(fence) && max > 2 * fence.length) {
    return `${cut(text.slice(0, -fence.length), max - fence.length)}${fence}`;
  }
  return dropDanglingEscape(cut(text, max));
}

/** `ab\…` → `ab…`: an odd run of backslashes before the ellipsis would escape it. */
function dropDanglingEscape(s: string): string {
  if (!s.endsWith('…')) return s;
  const body = s.slice(0, -1);
  const run = /\\+$/.exec(body)?.[0].length ?? 0;
  return run % 2 === 1 ? `${body.slice(0, -1)}…` : s;
}
