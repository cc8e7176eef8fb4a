import type { ChatCore } from '../../chat/adapter-port.js';
import { describeJob } from '../../kinds/index.js';
import { handleReaction } from '../../chat/approval-reactions.js';
import { expandRoles } from '../../chat/roles.js';
import type { Invocation } from '../../chat/router.js';
import type { ChatPlace, ChatUser, CommandDef, ReactionOutcome, Reply, ReplyPage, Role } from '../../chat/types.js';
import { parseLine, type ShellAction } from './parse.js';
import { replyLines } from './render.js';
import { BOT_NAME, SHELL_ADAPTER } from './sink.js';
import type { Transcript } from './transcript.js';

/**
 * The terminal chat (Hubot's shell adapter, Errbot's text backend): the same commands, roles,
 * approvals and notifications as Discord, typed by a user chosen with `--as` / `as NAME`.
 * A user's id is their name; roles are given on the command line, not looked up.
 */

export const SHELL_PLACE: ChatPlace = { adapter: SHELL_ADAPTER, guildId: null, channelId: 'terminal' };

const HELP = [
  'Slash commands as in Discord, options as name:value (quote values with spaces):',
  '  /deploy template:base name:web count:4 mode:thin     /template list     /vm list',
  '  /snapshot create vm:web-01 name:before kind:external description:"pre-upgrade"',
  '  /snapshot revert vm:web-01 name:before               /job list mine:true',
  '  /audit user:@alice command:"snapshot revert" since:7d',
  '  /vm list filter:web-*                                more · back   (the next / previous page of a list)',
  '  /snapshot create vm:web-* name:before-patch          a pattern (* and ?) on snapshot create|revert|delete, vm start|stop|delete:',
  '  /snapshot revert vm:web-* name:before-patch          one job per matching VM, one batch, one approval',
  '  /key add key:"ssh-ed25519 AAAA… you@laptop" name:laptop    /key list    /key remove name:laptop',
  'react ID ✅|❌   react to a bot message (approve / reject a request)',
  'as NAME [role,role…]   type as another user (roles: viewer, operator, admin, approver)',
  '  /schedule create vm:web-* every:6h keep:4             /schedule list     /schedule delete id:1',
  '  /host list     /host info host:lab     /host drain host:lab [off:true]     /deploy … host:auto   (placement)',
  'clock +1h · clock tick   (started with --clock) move the schedules\' clock on and run the due ones',
  'whoami · help · quit        Tab completes commands, options and names.',
];

export interface ShellSessionOptions {
  user: string;
  roles: Role[];
  /**
   * The schedules' drivable clock (`npm run shell -- --clock`): `clock +1h` moves it on and runs
   * the scheduler once, so a schedule's runs and its retention can be watched (and tested)
   * without waiting hours. Absent: `clock` is refused. It moves the scheduler's time only — job
   * times, approvals and retention of history keep the real clock.
   */
  clock?: ShellClock;
}

export interface ShellClock {
  /** Moves the clock `ms` on, runs one scheduler pass; a few lines saying what it did. */
  advance(ms: number): Promise<string[]>;
}

export class ShellSession {
  private user: ChatUser;
  private readonly clock: ShellClock | undefined;
  /** The reply to the last slash command (the demo reads its job id). */
  lastReply: Reply | null = null;
  lastReaction: ReactionOutcome | null = null;
  /** The last paged list shown (`more` / `back` run it again from another offset). */
  private lastPage: { inv: Omit<Invocation, 'user' | 'offset'>; page: ReplyPage } | null = null;
  private readonly knownRoles = new Map<string, Set<Role>>();
  private readonly defs: Map<string, CommandDef>;

  constructor(
    private readonly core: ChatCore,
    private readonly transcript: Transcript,
    opts: ShellSessionOptions,
  ) {
    this.defs = new Map(core.router.definitions().map((d) => [d.name, d]));
    this.user = this.switchUser(opts.user, opts.roles);
    this.clock = opts.clock;
  }

  get currentUser(): ChatUser {
    return this.user;
  }

  private switchUser(name: string, roles: Role[] | null): ChatUser {
    if (roles) this.knownRoles.set(name, expandRoles(roles));
    const held = this.knownRoles.get(name) ?? new Set<Role>();
    this.knownRoles.set(name, held);
    return { id: name, name, roles: held };
  }

  private describeUser(): string {
    const roles = [...this.user.roles].sort().join(', ') || 'no roles';
    return `you are ${this.user.name} (${roles})`;
  }

  /**
   * Requests awaiting approval from an earlier session get a fresh message here (the old
   * message ids belonged to a terminal that is gone), so they can still be reacted to.
   */
  async resumePendingApprovals(): Promise<void> {
    const { approvals, jobs } = this.core.services;
    for (const approval of await approvals.listPending()) {
      if (approval.adapter !== null && approval.adapter !== SHELL_ADAPTER) continue;
      const job = await jobs.get(approval.jobId);
      if (!job) continue;
      const id = this.transcript.post(BOT_NAME, [
        `⏸ Still awaiting approval: job #${job.id} — ${describeJob(job)}`,
        `Requested by ${job.requester.name}; expires ${new Date(approval.expiresAt).toISOString()}`,
      ]);
      await this.attachApproval(job.id, id);
    }
  }

  /** One typed line. Returns false when the user asked to quit. */
  async run(line: string): Promise<boolean> {
    const action: ShellAction = parseLine(line, (c) => !(this.defs.get(c)?.flat ?? true));
    switch (action.kind) {
      case 'empty':
        return true;
      case 'quit':
        return false;
      case 'help':
        for (const l of HELP) this.transcript.note(l);
        return true;
      case 'whoami':
        this.transcript.note(this.describeUser());
        return true;
      case 'error':
        this.transcript.note(`✖ ${action.message}`);
        return true;
      case 'as':
        this.user = this.switchUser(action.user, action.roles);
        this.transcript.note(this.describeUser());
        return true;
      case 'react':
        this.lastReaction = await this.react(action.messageId, action.emoji);
        this.transcript.note(describeOutcome(this.lastReaction, action.emoji));
        return true;
      case 'command':
        await this.command(action.command, action.subcommand, action.options);
        return true;
      case 'page':
        await this.turnPage(action.direction);
        return true;
      case 'clock':
        if (!this.clock) this.transcript.note('✖ the clock is the real one here: start the shell with --clock to drive it');
        else for (const l of await this.clock.advance(action.advanceMs)) this.transcript.note(l);
        return true;
    }
  }

  private async react(messageId: string, emoji: string): Promise<ReactionOutcome> {
    return handleReaction({ place: SHELL_PLACE, messageId, user: this.user, emoji }, this.core.services);
  }

  private async command(command: string, subcommand: string | null, options: Record<string, string | number | boolean | undefined>, offset?: number): Promise<void> {
    const inv = { command, subcommand, options, place: SHELL_PLACE };
    const reply = await this.core.router.handle({ ...inv, user: this.user, ...(offset !== undefined ? { offset } : {}) });
    this.lastReply = reply;
    // A refusal of `more` keeps the list where it was; a new list, or a read that is not one, replaces it.
    if (reply.code === undefined || offset === undefined) this.lastPage = reply.page ? { inv, page: reply.page } : null;
    const id = this.transcript.post(BOT_NAME, [...replyLines(reply), ...pageHint(reply.page)]);
    if (reply.approvalJobId !== undefined) await this.attachApproval(reply.approvalJobId, id);
  }

  /** `more` / `back`: the last paged list again, from the next or the previous page, as the current user. */
  private async turnPage(direction: 'more' | 'back'): Promise<void> {
    const last = this.lastPage;
    if (!last) return this.transcript.note('✖ no list to page: run a list first (/vm list)');
    const { page } = last;
    const offset = direction === 'more' ? page.offset + page.limit : page.offset - page.limit;
    if (direction === 'more' && offset >= page.total && !page.capped) return this.transcript.note(`✖ that was the last page (${page.total} in all)`);
    if (direction === 'back' && page.offset === 0) return this.transcript.note('✖ that was the first page');
    await this.command(last.inv.command, last.inv.subcommand ?? null, last.inv.options, Math.max(0, offset));
  }

  /**
   * The request message is attached before anyone can react to it, as in the Discord adapter;
   * through the services port, so a database another process holds is waited out.
   */
  private async attachApproval(jobId: number, messageId: string): Promise<void> {
    await this.core.services.approvals.attachMessage(jobId, { adapter: SHELL_ADAPTER, channelId: SHELL_PLACE.channelId, messageId });
    this.transcript.note(`   ↳ approvers: react ${messageId} ✅ to run it, react ${messageId} ❌ to reject`);
  }

  /** Tab completion: commands, subcommands, option names, then names from the same source as Discord's autocomplete. */
  async complete(line: string): Promise<[string[], string]> {
    const words = line.split(/\s+/);
    const word = words.at(-1) ?? '';
    const pick = (cands: string[]) => [cands.filter((c) => c.startsWith(word)), word] as [string[], string];
    if (words.length === 1) {
      if (word.startsWith('/')) return pick([...this.defs.keys()].map((n) => `/${n}`));
      return pick(['react ', 'as ', 'more', 'back', 'whoami', 'help', 'quit']);
    }
    const head = words[0]!;
    if (head === 'react' && words.length === 3) return pick(['✅', '❌']);
    if (!head.startsWith('/')) return [[], word];
    const def = this.defs.get(head.slice(1));
    if (!def) return [[], word];
    let sub = def.flat ? def.subcommands[0] : undefined;
    if (!def.flat) {
      if (words.length === 2) return pick(def.subcommands.map((s) => `${s.name} `));
      sub = def.subcommands.find((s) => s.name === words[1]);
    }
    if (!sub) return [[], word];
    const colon = word.indexOf(':');
    if (colon < 0) return pick(sub.options.map((o) => `${o.name}:`));
    const optName = word.slice(0, colon);
    const option = sub.options.find((o) => o.name === optName);
    if (!option) return [[], word];
    const prefix = word.slice(0, colon + 1);
    let values: string[] = [];
    if (option.choices) values = option.choices.map((c) => String(c.value));
    else if (option.type === 'boolean') values = ['true', 'false'];
    else if (option.autocomplete) {
      const options: Record<string, string> = {};
      for (const w of words.slice(def.flat ? 1 : 2, -1)) {
        const i = w.indexOf(':');
        if (i > 0) options[w.slice(0, i)] = w.slice(i + 1);
      }
      const choices = await this.core.router.complete({
        command: def.name,
        subcommand: def.flat ? null : sub.name,
        options,
        user: this.user,
        place: SHELL_PLACE,
        focused: optName,
        value: word.slice(colon + 1),
      });
      values = choices.map((c) => c.value);
    }
    return pick(values.map((v) => `${prefix}${v}`));
  }
}

export /** "(more: the next page · back: the previous one)" under a page of a longer list. */
function pageHint(page: ReplyPage | undefined): string[] {
  if (!page) return [];
  const ways = [
    ...(page.offset + page.limit < page.total ? ['more: the next page'] : []),
    ...(page.offset > 0 ? ['back: the previous one'] : []),
  ];
  return ways.length ? [`(${ways.join(' · ')})`] : [];
}

function describeOutcome(o: ReactionOutcome, emoji: string): string {
  if (o.kind === 'approved') return `${emoji} counted: job #${o.jobId} approved and queued`;
  if (o.kind === 'rejected') return `${emoji} counted: job #${o.jobId} rejected`;
  const why: Record<typeof o.reason, string> = {
    'not-an-approval': 'that message is not an approval request',
    requester: 'your own reaction does not count: a second person must approve (KVMOPS_TWO_PERSON)',
    'not-approver': 'only members with the approver role can decide',
    'other-emoji': 'only ✅ and ❌ count',
    'already-decided': 'that request was already decided or has expired',
    bot: 'bots do not decide',
  };
  return `${emoji} ignored: ${why[o.reason]}`;
}
