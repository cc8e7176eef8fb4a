import { readFile, writeFile } from 'node:fs/promises';
import { visibleControls } from '../../domain/text.js';

/**
 * The terminal chat's channel: every bot message gets a short id (`m12`) that the user can
 * react to (`react m12 ✅`). An edited message is redrawn in place when it is the last thing on
 * a terminal screen; otherwise (older message, or output is not a terminal) the new version is
 * printed again, marked as an update — a log file then keeps the whole history.
 *
 * Everything printed is terminal-safe: text from users, libvirt or virsh errors may hold escape
 * sequences (`\x1b]0;…` retitles the window, `\x1b[2J` clears it), so control characters are
 * shown as `\x1b`-style escapes; a line holding newlines becomes several lines.
 */

export interface TranscriptOptions {
  /** Where output goes. */
  write: (s: string) => void;
  /** Redraw in place (ANSI cursor movement): only on a real terminal. */
  inPlace: boolean;
  /**
   * File keeping the id counter, so ids never repeat across sessions on one database: open such
   * a transcript with `Transcript.open`, which reads the counter first.
   */
  seqFile?: string;
  /** Called around each write, e.g. to clear and redraw an interactive prompt. */
  beforeWrite?: () => void;
  afterWrite?: () => void;
}

interface Message {
  id: string;
  author: string;
  lines: string[];
}

export class Transcript {
  private readonly messages = new Map<string, Message>();
  private seq: number;
  /** The block at the bottom of the screen: the only one that can be redrawn in place. */
  private last: { id: string; rows: number } | null = null;

  /** Saves of the counter, one after another (fs/promises: the worker shares this event loop). */
  private saving: Promise<void> = Promise.resolve();

  /** `seq`: the last id already used (`open` reads it from `seqFile`). */
  constructor(
    private readonly opts: TranscriptOptions,
    seq = 0,
  ) {
    this.seq = seq;
  }

  /** A transcript whose ids go on from the counter in `opts.seqFile` (none or unreadable: from 1). */
  static async open(opts: TranscriptOptions): Promise<Transcript> {
    const saved = opts.seqFile ? await readFile(opts.seqFile, 'utf8').catch(() => '0') : '0';
    return new Transcript(opts, Number.parseInt(saved, 10) || 0);
  }

  /** Resolves when the counter's last save is done (before the process exits). */
  flush(): Promise<void> {
    return this.saving;
  }

  private nextId(): string {
    this.seq += 1;
    const file = this.opts.seqFile;
    // Each save writes the newest counter; a failed save must not stop the chat (the worst
    // outcome is a short id seen in an earlier session).
    if (file) this.saving = this.saving.then(() => writeFile(file, String(this.seq))).catch(() => {});
    return `m${this.seq}`;
  }

  has(id: string): boolean {
    return this.messages.has(id);
  }

  /** A new bot message; returns its id. */
  post(author: string, lines: string[]): string {
    const id = this.nextId();
    const msg = { id, author, lines };
    this.messages.set(id, msg);
    this.print(this.format(msg));
    this.last = { id, rows: this.format(msg).length };
    return id;
  }

  /** Replace a message's text (a status update). Unknown id → false (caller posts anew). */
  edit(id: string, lines: string[]): boolean {
    const msg = this.messages.get(id);
    if (!msg) return false;
    if (msg.lines.join('\n') === lines.join('\n')) return true; // nothing new: no redraw
    msg.lines = lines;
    const block = this.format(msg);
    if (this.opts.inPlace && this.last?.id === id) {
      const up = this.last.rows;
      this.print(block, `\x1b[${up}F\x1b[J`);
    } else {
      block[0] = `${block[0]}  (updated)`;
      this.print(block);
    }
    this.last = { id, rows: block.length };
    return true;
  }

  /** Local feedback that is not a bot message (no id): echoes, usage errors. */
  note(line: string): void {
    this.print(safeLines([line]));
    this.last = null;
  }

  private format(msg: Message): string[] {
    const [first = '', ...more] = safeLines(msg.lines);
    return [`[${msg.id}] ${visibleControls(msg.author)}: ${first}`, ...more.map((l) => `      ${l}`)];
  }

  private print(block: string[], prefix = ''): void {
    this.opts.beforeWrite?.();
    this.opts.write(prefix + block.join('\n') + '\n');
    this.opts.afterWrite?.();
  }
}

/** Lines as the terminal may show them: split at line breaks, control characters made visible. */
export function safeLines(lines: readonly string[]): string[] {
  return lines.flatMap((l) => l.split(/\r?\n/)).map((l) => visibleControls(l, '\t'));
}
