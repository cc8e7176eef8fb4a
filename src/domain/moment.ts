/**
 * Moments inside chat-neutral text, the way people are (src/chat/people.ts): the chat core
 * writes `moment(ms)`, and each adapter draws it — Discord as a timestamp (`<t:…:f>`), which
 * every reader sees in their own time zone; the shell as text (`formatTime`). The marker is
 * control characters and digits, which nothing a user types can contain (free text with control
 * characters is refused: src/domain/text.ts). It lives here, below the chat layer, so job kinds
 * can mark the times they show in chat lines (a pinned snapshot's creation time).
 */
const MOMENT_OPEN = '\u0003';
const MOMENT_CLOSE = '\u0004';
const MOMENT = /\u0003(\d{1,16})\u0004/g;

/** Epoch ms as a marker inside text. */
export function moment(ms: number): string {
  return `${MOMENT_OPEN}${Math.max(0, Math.floor(ms))}${MOMENT_CLOSE}`;
}

/** Text with each moment drawn by `draw` and each plain piece by `plain`. */
export function renderMoments(text: string, draw: (ms: number) => string, plain: (s: string) => string = (s) => s): string {
  let out = '';
  let at = 0;
  for (const m of text.matchAll(MOMENT)) {
    out += plain(text.slice(at, m.index)) + draw(Number(m[1]));
    at = m.index + m[0].length;
  }
  return out + plain(text.slice(at));
}

