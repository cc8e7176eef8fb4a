import type { RawOptions, Role } from '../../chat/types.js';
import { parseDuration } from '../../domain/duration.js';

/**
 * What a line typed into the terminal chat means. Slash commands are written as in Discord:
 * `/deploy template:base name:web count:4 mode:thin`, `/snapshot create vm:web-01 name:s1
 * description:"before upgrade"`. Values stay strings here; the router's zod schemas decide.
 */
export type ShellAction =
  | { kind: 'command'; command: string; subcommand: string | null; options: RawOptions }
  | { kind: 'react'; messageId: string; emoji: string }
  | { kind: 'as'; user: string; roles: Role[] | null }
  | { kind: 'whoami' }
  /** The next (`more`) or the previous (`back`) page of the last paged list. */
  | { kind: 'page'; direction: 'more' | 'back' }
  /** `clock +1h`: move the schedules' clock on, then run the scheduler once (`--clock` only); `clock tick`: just run it. */
  | { kind: 'clock'; advanceMs: number }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'empty' }
  | { kind: 'error'; message: string };

const ROLES: readonly Role[] = ['viewer', 'operator', 'admin', 'approver'];
const EMOJI_ALIASES: Record<string, string> = { ok: '✅', yes: '✅', '+1': '✅', no: '❌', x: '❌', '-1': '❌' };

/** Splits on blanks, honouring "double" and 'single' quotes (no escapes inside: none needed). */
export function tokenize(line: string): string[] | { error: string } {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let has = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (quote) return { error: `unclosed ${quote}` };
  if (has) out.push(cur);
  return out;
}

export function parseRoles(s: string): Role[] | { error: string } {
  const roles = s
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const bad = roles.filter((r) => !ROLES.includes(r as Role));
  if (bad.length) return { error: `unknown role ${bad.join(', ')} (roles: ${ROLES.join(', ')})` };
  return roles as Role[];
}

/**
 * `knownSubcommands(command)` tells whether the word after a command is a subcommand (so that
 * `/template list` and `/deploy name:x` both parse without a grammar table here).
 */
export function parseLine(line: string, hasSubcommands: (command: string) => boolean): ShellAction {
  const t = tokenize(line.trim());
  if (!Array.isArray(t)) return { kind: 'error', message: t.error };
  const [head, ...rest] = t;
  if (head === undefined) return { kind: 'empty' };

  if (head.startsWith('/')) {
    const command = head.slice(1);
    let subcommand: string | null = null;
    let args = rest;
    if (hasSubcommands(command) && args[0] !== undefined && !args[0].includes(':')) {
      subcommand = args[0];
      args = args.slice(1);
    }
    const options: RawOptions = {};
    for (const a of args) {
      const i = a.indexOf(':');
      if (i <= 0) return { kind: 'error', message: `"${a}" is not option:value` };
      const key = a.slice(0, i);
      if (key in options) return { kind: 'error', message: `option ${key} given twice` };
      options[key] = a.slice(i + 1);
    }
    return { kind: 'command', command, subcommand, options };
  }

  switch (head) {
    case 'react': {
      const [messageId, emojiIn = '✅', ...extra] = rest;
      if (!messageId || extra.length) return { kind: 'error', message: 'usage: react MESSAGE-ID ✅|❌' };
      return { kind: 'react', messageId, emoji: EMOJI_ALIASES[emojiIn] ?? emojiIn };
    }
    case 'as': {
      const [user, rolesIn, ...extra] = rest;
      if (!user || extra.length) return { kind: 'error', message: 'usage: as NAME [role,role…]' };
      if (rolesIn === undefined) return { kind: 'as', user, roles: null };
      const roles = parseRoles(rolesIn.replace(/^--roles=?/, ''));
      if (!Array.isArray(roles)) return { kind: 'error', message: roles.error };
      return { kind: 'as', user, roles };
    }
    case 'whoami':
      return { kind: 'whoami' };
    case 'more':
    case 'back':
      if (rest.length) return { kind: 'error', message: `usage: ${head}` };
      return { kind: 'page', direction: head };
    case 'clock': {
      const [arg, ...extra] = rest;
      if (arg === 'tick' && !extra.length) return { kind: 'clock', advanceMs: 0 };
      if (!arg?.startsWith('+') || extra.length) return { kind: 'error', message: 'usage: clock +DURATION (e.g. clock +1h) · clock tick' };
      try {
        return { kind: 'clock', advanceMs: parseDuration(arg.slice(1)) };
      } catch (e) {
        return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
      }
    }
    case 'help':
    case '?':
      return { kind: 'help' };
    case 'quit':
    case 'exit':
      return { kind: 'quit' };
    default:
      return { kind: 'error', message: `unknown input "${head}": type help` };
  }
}
