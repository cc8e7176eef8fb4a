import { isKvmopsError } from '../domain/errors.js';
import { retryWhileBusy } from '../jobs/retry.js';
import type { Approvals, Job, JobEvent, JobStore, NotifyTarget, Outbox, Requester } from '../jobs/types.js';
import { stderrLogger, type Logger } from '../domain/logger.js';
import { DEFAULT_DELIVERY_BACKOFF, deliveryDelay, type DeliveryBackoff } from './backoff.js';
import { CreateLedger, DEFAULT_CROWD_POLICY, groupDueAt, joinsSummary, type CrowdPolicy } from './crowd.js';
import { FINAL_EVENT_TYPES, mayHaveSettledApproval, planDelivery } from './plan.js';
import { batchView, channelSummaryView, groupEndView, statusView, summaryLine } from './render.js';
import { isPermanentSinkError, type NotificationSink } from './types.js';

export interface NotifierOptions {
  outbox: Outbox;
  store: Pick<JobStore, 'get' | 'setStatusMessage' | 'onChange'> & Partial<Pick<JobStore, 'batch'>>;
  /** For `approvalChanged`; without it sinks are not told about approval decisions. */
  approvals?: Pick<Approvals, 'get'>;
  sinks: NotificationSink[];
  /** Events read at a time (a pass reads page after page of them). Default 500. */
  batchSize?: number;
  /** Jobs delivered in parallel within a pass (one job's events are always sequential). Default 4. */
  parallelJobs?: number;
  /** Minimum gap between two progress-only edits of one status message. Default 2 s. */
  minProgressEditMs?: number;
  backoff?: DeliveryBackoff;
  /**
   * A crowded channel's summary message and grouped mentions (src/notifier/crowd.ts); `false`
   * gives every job its own status message and mention whatever the crowd. Default: on, with
   * DEFAULT_CROWD_POLICY (fields given here override it).
   */
  crowd?: Partial<CrowdPolicy> | false;
  /** Safety net behind onChange (events written by another process). Default 10 s. */
  safetyPollMs?: number;
  /**
   * How long one outbox / status-message write waits out a busy database (retried on timers)
   * before the job's batch backs off and is tried again later. Default 60 s.
   */
  dbPatienceMs?: number;
  logger?: Logger;
  now?: () => number;
  random?: () => number;
}

interface Gate {
  failures: number;
  nextTryAt: number;
}

interface JobGroup {
  jobId: number;
  events: JobEvent[];
}

/**
 * What is stored as the status message id of a job whose line lives in a channel summary: after
 * a restart such a job goes on reporting in a summary, never in a message of its own.
 */
export const IN_SUMMARY = 'summary';

/** One channel summary message and the jobs whose lines it holds (in the order they joined). */
interface Summary {
  target: NotifyTarget;
  members: number[];
  messageId: string | null;
  shown: string | null;
  editAt: number | undefined;
  /** When it last took a job: a burst is arriving while that is within the window. */
  lastJoinAt: number;
  /** Since when none of its jobs is live (undefined while one is). */
  quietSince: number | undefined;
  /** Its jobs' rows, read once per page of events (`reads`), and who of them is live. */
  drawn: { at: number; jobs: Job[]; live: number; liveRequesters: Set<string> } | null;
  /** Each job's line as the message last showed it: a job whose line is unchanged needs no edit. */
  shownLines: Map<number, string>;
}

/** A requester's ended jobs awaiting their one grouped mention. */
interface MentionGroup {
  requester: Requester;
  target: NotifyTarget;
  jobIds: number[];
  firstEndAt: number;
  /** Waiting until then for the requester's other ended jobs to be shown (see mentionGroup). */
  settleUntil?: number;
}

/** What the notifier knows of one channel (per adapter): see src/notifier/crowd.ts. */
interface ChannelCrowd {
  /** Live jobs (and batches, as `b<id>`) with their own status message. */
  ownLive: Set<number | string>;
  /**
   * Jobs that had already ended when they were given their own status message, within the
   * window: a backlog of jobs that finished while the chat was unreachable crowds a channel as
   * much as live ones (each costs a status message and a mention at once), though none is live.
   */
  ownRecent: Map<number, number>;
  /** Live jobs seen in the channel, with their requester's id: who still has work under way. */
  live: Map<number, string>;
  /** The summary new jobs join: while it has a live job, and `groupWindowMs` after (crowd.ts). */
  summary: Summary | null;
  ledger: CreateLedger;
  groups: Map<string, MentionGroup>;
}

/**
 * Delivers the job_events outbox to the chat sinks.
 *
 * What is read: per sink, that adapter's pending events only, oldest first, page after page
 * (`batchSize` each) until none is left. Events for an adapter this process does not run (a shell
 * session used the database; this bot runs Discord only) are never read, so they never stand in
 * the way: they are kept for the process that runs it. Nor can jobs that wait (backing off, a
 * progress edit held back) fill a page and keep the next one from being read. Each job is taken
 * once per pass, with all its pending events, so none of its events goes before an earlier one.
 *
 * Per job, in event order, one job at a time: all undelivered events of a job are covered by
 * one status upsert showing the newest snapshot, then marked delivered. Progress-only batches
 * are held back to one edit per `minProgressEditMs`; state changes go at once.
 *
 * "Finished" mention, exactly once: for a batch containing the final event, the order is
 *   upsert status → mark the other events delivered → announceEnd → mark the final event delivered.
 * If anything before announceEnd fails, nothing was announced and the retry is clean. An
 * in-memory guard stops a second announce when only the last mark failed. What remains: a crash
 * in the instant between announceEnd returning and the final mark committing (one SQLite
 * write), or announceEnd failing after the platform accepted the message (lost response) —
 * then the mention is repeated after restart/retry. Sinks close that gap where the platform
 * allows (Discord: nonce + enforce_nonce); status upserts are idempotent, so they need nothing.
 *
 * A busy database (another process holds the write lock, or the disk is full: `db-busy`) never
 * makes a notification repeat or vanish: what the chat accepted is kept in memory (the status
 * message id, "announced") before the write that records it, and that write is retried until it
 * lands. Only after `dbPatienceMs` does the batch back off — and its retry then edits the same
 * message and skips the announce.
 *
 * Failures: a throwing sink is retried with capped exponential backoff, both per sink (a
 * platform that is down is not hammered by every job) and per job; events are never dropped
 * for a retryable error, so after an outage every job converges to its final state and each
 * finished job is announced once. A PermanentSinkError drops that job's batch (logged).
 */
export class Notifier {
  private readonly outbox: Outbox;
  private readonly store: NotifierOptions['store'];
  private readonly approvals: NotifierOptions['approvals'];
  private readonly sinks = new Map<string, NotificationSink>();
  private readonly batchSize: number;
  private readonly parallelJobs: number;
  private readonly minProgressEditMs: number;
  private readonly backoff: DeliveryBackoff;
  private readonly safetyPollMs: number;
  private readonly dbPatienceMs: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;

  private readonly messageIds = new Map<number, string>();
  private readonly lastEditAt = new Map<number, number>();
  /** Jobs whose end was announced but whose final event is not yet marked delivered. */
  private readonly announced = new Set<number>();
  private readonly sinkGates = new Map<string, Gate>();
  /** Batches (by lead id): their one status message, its last edit and what it showed, whether its end was announced. */
  private readonly batchMessageIds = new Map<number, string>();
  private readonly batchEditAt = new Map<number, number>();
  private readonly batchShown = new Map<number, string>();
  private readonly batchAnnounced = new Set<number>();
  /**
   * One delivery at a time per batch (`b<id>`: its jobs share one message; parallel jobs would
   * post it twice) and per channel when crowding is on (`c<adapter:channel>`).
   */
  private readonly batchLocks = new Map<string, Promise<unknown>>();
  private readonly jobGates = new Map<number, Gate>();
  private readonly crowd: CrowdPolicy | null;
  private readonly channels = new Map<string, ChannelCrowd>();
  /** Jobs whose line lives in a summary: their summary. */
  private readonly summaryOf = new Map<number, Summary>();
  /** Jobs announced in a grouped mention whose final event is not yet marked delivered. */
  private readonly groupAnnounced = new Set<number>();
  /**
   * Counts pages of events read: a summary drawn since the last page read is at least as new as
   * every event of that page (the rows are read after the events), so it may be reused for them.
   */
  private reads = 0;

  private started = false;
  private unsubscribe: (() => void) | null = null;
  private passing: Promise<void> | null = null;
  private again = false;
  private wakeScheduled = false;
  private poll: ReturnType<typeof setInterval> | null = null;
  private timer: { at: number; handle: ReturnType<typeof setTimeout> } | null = null;
  /** Aborted by stop(): database writes still waiting give up. */
  private halt = new AbortController();

  /** Counters for tests and metrics. */
  readonly stats = { upserts: 0, announces: 0, failures: 0, delivered: 0, dropped: 0, passes: 0, creates: 0 };

  constructor(opts: NotifierOptions) {
    this.outbox = opts.outbox;
    this.store = opts.store;
    this.approvals = opts.approvals;
    for (const s of opts.sinks) this.sinks.set(s.adapter, s);
    this.batchSize = opts.batchSize ?? 500;
    this.parallelJobs = Math.max(1, opts.parallelJobs ?? 4);
    this.minProgressEditMs = opts.minProgressEditMs ?? 2_000;
    this.backoff = opts.backoff ?? DEFAULT_DELIVERY_BACKOFF;
    this.crowd = opts.crowd === false ? null : { ...DEFAULT_CROWD_POLICY, ...opts.crowd };
    this.safetyPollMs = opts.safetyPollMs ?? 10_000;
    this.dbPatienceMs = opts.dbPatienceMs ?? 60_000;
    this.log = opts.logger ?? stderrLogger;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.halt = new AbortController();
    this.unsubscribe = this.store.onChange(() => this.wake());
    this.poll = setInterval(() => this.wake(), this.safetyPollMs);
    this.poll.unref();
    this.tellWhatWaitsForOthers();
    this.wake();
  }

  /** Events for adapters this process does not run are kept for the one that does: say so once. */
  private tellWhatWaitsForOthers(): void {
    try {
      for (const [adapter, events] of this.outbox.pendingByAdapter()) {
        if (!this.sinks.has(adapter)) this.log.info({ adapter, events }, 'notifications kept for an adapter this process does not run');
      }
    } catch (e) {
      this.log.warn({ err: e }, 'could not count the notifications waiting for other adapters');
    }
  }

  async stop(): Promise<void> {
    this.started = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    if (this.timer) clearTimeout(this.timer.handle);
    this.timer = null;
    this.halt.abort();
    await this.passing;
  }

  /**
   * Runs delivery passes until nothing is deliverable right now. Resolves with the number of
   * events still pending (held back or backing off). For tests and for a final flush at shutdown.
   */
  async flush(): Promise<number> {
    while (this.passing) await this.passing;
    for (;;) {
      const before = this.stats.delivered + this.stats.dropped;
      await this.runPass();
      if (this.stats.delivered + this.stats.dropped === before) break;
    }
    let pending = 0;
    for (const adapter of this.sinks.keys()) pending += this.outbox.pending(adapter, this.batchSize).length;
    return pending;
  }

  private wake(): void {
    if (!this.started || this.wakeScheduled) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (this.started) void this.runPass();
    });
  }

  private runPass(): Promise<void> {
    if (this.passing) {
      this.again = true;
      return this.passing;
    }
    this.passing = this.pass()
      .catch((e: unknown) => this.log.error({ err: e }, 'notifier pass failed'))
      .finally(() => {
        this.passing = null;
        if (this.again && this.started) {
          this.again = false;
          this.wake();
        }
      });
    return this.passing;
  }

  private async pass(): Promise<void> {
    this.stats.passes++;
    const waits = await Promise.all([...this.sinks.values()].map((sink) => this.passFor(sink)));
    const nextAt = Math.min(...waits);
    if (nextAt !== Infinity) this.armTimer(nextAt);
  }

  /**
   * One sink's pending events, page by page; returns when to look again (Infinity: no need).
   * Each job is delivered once per pass with all its pending events: when a page was full, the
   * rest of each of its jobs' events is read too (a state change beyond the page must not wait
   * behind the progress edits before it), and a job met again in a later page is skipped.
   */
  private async passFor(sink: NotificationSink): Promise<number> {
    let nextAt = Infinity;
    const seen = new Set<number>();
    for (let after = 0; !this.halt.signal.aborted; ) {
      // The platform is backing off: no page would get through.
      const sinkGate = this.sinkGates.get(sink.adapter)?.nextTryAt ?? 0;
      if (sinkGate > this.now()) return Math.min(nextAt, sinkGate);
      const events = this.outbox.pending(sink.adapter, this.batchSize, after);
      this.reads++;
      if (events.length === 0) break;
      const full = events.length === this.batchSize;
      after = events[events.length - 1]!.id;
      const queue = groupByJob(events).filter((g) => !seen.has(g.jobId));
      for (const g of queue) {
        seen.add(g.jobId);
        if (full) g.events.push(...this.outbox.pendingOfJob(g.jobId, after));
      }
      const runOne = async (): Promise<void> => {
        for (let g = queue.shift(); g; g = queue.shift()) {
          const wait = await this.deliverGroup(sink, g);
          if (wait !== null) nextAt = Math.min(nextAt, wait);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.parallelJobs, queue.length) }, runOne));
      if (!full) break;
    }
    return nextAt;
  }

  private armTimer(at: number): void {
    if (!this.started) return;
    if (this.timer && this.timer.at <= at) return;
    if (this.timer) clearTimeout(this.timer.handle);
    const handle = setTimeout(() => {
      this.timer = null;
      this.wake();
    }, Math.max(0, at - this.now()) + 5);
    handle.unref();
    this.timer = { at, handle };
  }

  /**
   * Delivers one job's pending events (all of `sink`'s adapter); returns when to look again if it
   * had to wait, else null.
   */
  private async deliverGroup(sink: NotificationSink, g: JobGroup): Promise<number | null> {
    if (this.store.batch) {
      const row = this.store.get(g.jobId);
      if (row && row.batchId !== null) return this.inLock(`b${row.batchId}`, () => this.deliverBatchGroup(sink, g, row.batchId!));
    }
    if (!this.crowd) return this.deliverJobGroup(sink, g);
    // A crowded channel's state (its summary, its mention groups) is shared by its jobs: one
    // delivery at a time per channel. On Discord that costs nothing: one channel's creates, and
    // its edits, are one rate-limit bucket each, which discord.js sends one at a time anyway.
    const target = g.events[g.events.length - 1]!.job.notify;
    return this.inLock(`c${channelKey(target)}`, () => this.deliverCrowdable(sink, g));
  }

  private inLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.batchLocks.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    this.batchLocks.set(key, tail);
    void tail.then(() => {
      if (this.batchLocks.get(key) === tail) this.batchLocks.delete(key);
    });
    return run;
  }

  private channel(target: NotifyTarget): ChannelCrowd {
    const key = channelKey(target);
    let ch = this.channels.get(key);
    if (!ch) {
      ch = { ownLive: new Set(), ownRecent: new Map(), live: new Map(), summary: null, ledger: new CreateLedger(this.sinks.get(target.adapter)?.createLimit), groups: new Map() };
      this.channels.set(key, ch);
    }
    return ch;
  }

  /**
   * A job's events when crowding is on (src/notifier/crowd.ts): its own status message, or its
   * line in the channel summary — decided once, when the job has no message yet.
   */
  private async deliverCrowdable(sink: NotificationSink, g: JobGroup): Promise<number | null> {
    // A grouped mention may have delivered this job's final event since the page was read.
    const still = new Set(this.outbox.pendingOfJob(g.jobId, 0).map((e) => e.id));
    g = { jobId: g.jobId, events: g.events.filter((e) => still.has(e.id)) };
    if (g.events.length === 0) return null;
    const job = g.events[g.events.length - 1]!.job;
    const ch = this.channel(job.notify);
    if (FINAL_EVENT_TYPES.has(job.state)) ch.live.delete(job.id);
    else ch.live.set(job.id, job.requester.id);
    // Only its final event left, held for its requester's grouped mention: nothing to show again.
    const inGroup = ch.groups.get(job.requester.id)?.jobIds.includes(g.jobId) ?? false;
    if (inGroup && g.events.every((e) => FINAL_EVENT_TYPES.has(e.type))) return this.mentionGroup(sink, ch, job.requester.id, g);
    let summary = this.summaryOf.get(g.jobId);
    if (!summary) {
      const known = this.messageIds.get(g.jobId) ?? this.store.get(g.jobId)?.statusMessageId ?? null;
      const crowd = this.crowd!;
      // Quick jobs may all have ended between two arrivals of a burst: the summary stays the
      // channel's for a window after its last job ended, so they share it instead of each
      // opening a new one.
      const now = this.now();
      const current = ch.summary;
      if (current && current.quietSince !== undefined && now - current.quietSince >= crowd.groupWindowMs) ch.summary = null;
      for (const [id, at] of ch.ownRecent) if (now - at >= crowd.groupWindowMs) ch.ownRecent.delete(id);
      const own = new Set<number | string>([...ch.ownLive, ...ch.ownRecent.keys()]).size;
      const live = own + (ch.summary ? this.drawSummary(ch.summary).live : 0);
      const burstArriving = ch.summary !== null && now - ch.summary.lastJoinAt < crowd.groupWindowMs;
      const joins = known === IN_SUMMARY || (known === null && !ch.ownLive.has(g.jobId) && joinsSummary({ live, burstArriving }, crowd));
      if (joins) {
        // A new crowd after a quiet spell gets a new summary at the bottom of the channel, not a
        // line in an old one scrolled out of sight.
        if (!ch.summary || !burstArriving || ch.summary.members.length >= crowd.summaryCapacity) {
          ch.summary = { target: job.notify, members: [], messageId: null, shown: null, editAt: undefined, lastJoinAt: now, quietSince: undefined, drawn: null, shownLines: new Map() };
        }
        summary = ch.summary;
        summary.members.push(g.jobId);
        summary.lastJoinAt = now;
        summary.quietSince = undefined;
        // The rows read for this page, and the new job's: no re-read of every member per join.
        const row = summary.drawn?.at === this.reads ? this.store.get(g.jobId) : undefined;
        if (row) this.countLive(summary.drawn!, [...summary.drawn!.jobs, row]);
        else summary.drawn = null;
        this.summaryOf.set(g.jobId, summary);
      } else if (FINAL_EVENT_TYPES.has(job.state)) {
        if (known === null) ch.ownRecent.set(g.jobId, now);
      } else {
        ch.ownLive.add(g.jobId);
      }
    }
    if (summary) return this.deliverSummaryGroup(sink, g, ch, summary);
    return this.deliverJobGroup(sink, g, ch);
  }

  /**
   * The rows of a summary's jobs as they are now, read once per page of events: at least as new
   * as every event of that page (the rows are read after the events).
   */
  private drawSummary(summary: Summary): NonNullable<Summary['drawn']> {
    const at = this.reads;
    if (summary.drawn?.at === at) return summary.drawn;
    const drawn = { at, jobs: [] as Job[], live: 0, liveRequesters: new Set<string>() };
    this.countLive(drawn, summary.members.map((id) => this.store.get(id)).filter((j): j is Job => j !== undefined));
    return (summary.drawn = drawn);
  }

  private countLive(drawn: NonNullable<Summary['drawn']>, jobs: Job[]): void {
    const live = jobs.filter((j) => j.finishedAt === null);
    drawn.jobs = jobs;
    drawn.live = live.length;
    drawn.liveRequesters = new Set(live.map((j) => j.requester.id));
  }

  /**
   * One job's events when its line lives in a channel summary: the summary is edited (at most
   * one edit per `summaryEditMs`: a burst's many changes become few edits; an edit that would
   * show the same is skipped), the job's events are marked, and its final event waits for the
   * requester's grouped mention — same exactly-once rule as a job's own mention (in memory, then
   * the final events marked).
   */
  private async deliverSummaryGroup(sink: NotificationSink, g: JobGroup, ch: ChannelCrowd, summary: Summary): Promise<number | null> {
    const crowd = this.crowd!;
    const now = this.now();
    const job = g.events[g.events.length - 1]!.job;
    const ready = this.ready(sink, g, summary.editAt, now);
    if (typeof ready === 'number') return ready;
    const { finalEvent, marked, mark } = ready;
    try {
      // Its line as the message shows it already (an earlier edit drew its newest row): nothing
      // to edit. Else the whole summary is drawn — once per edit slot, not once per job.
      const row = this.store.get(g.jobId);
      const drawn = this.drawSummary(summary);
      if (summary.messageId === null || !row || summary.shownLines.get(g.jobId) !== summaryLine(row)) {
        const nextEdit = summary.editAt === undefined ? now : summary.editAt + crowd.summaryEditMs;
        if (summary.messageId !== null && nextEdit > now) return nextEdit;
        const view = channelSummaryView(drawn.jobs);
        const shown = JSON.stringify([view.title, view.lines]);
        if (summary.messageId === null || summary.shown !== shown) {
          const before = summary.messageId;
          const messageId = await sink.upsertStatus(summary.target, before, view);
          this.stats.upserts++;
          if (messageId !== before) this.counted(ch);
          summary.messageId = messageId;
          summary.shown = shown;
          summary.editAt = this.now();
        }
        summary.shownLines = new Map(drawn.jobs.map((j) => [j.id, summaryLine(j)]));
      }
      // Stored, so that after a restart the job goes on reporting in a summary, not on its own.
      if (this.messageIds.get(g.jobId) !== IN_SUMMARY) {
        await this.durably(() => this.store.setStatusMessage(g.jobId, IN_SUMMARY), g.jobId);
        this.messageIds.set(g.jobId, IN_SUMMARY);
      }
      if (sink.approvalChanged && this.approvals && mayHaveSettledApproval(g.events)) {
        const approval = this.approvals.get(g.jobId);
        const current = this.store.get(g.jobId);
        if (approval && current && approval.state !== 'pending') await sink.approvalChanged(approval, current);
      }
      for (const e of g.events) if (e !== finalEvent) await mark(e);
      // Every job of it ended and shown: after a window, new jobs start afresh.
      if (drawn.live > 0) summary.quietSince = undefined;
      else summary.quietSince ??= now;
      this.jobGates.delete(g.jobId);
      this.sinkGates.delete(sink.adapter);
      if (!finalEvent) return null;
      this.joinGroup(ch, finalEvent.job.requester, finalEvent.job.notify, g.jobId, now);
      return this.mentionGroup(sink, ch, job.requester.id, { jobId: g.jobId, events: [finalEvent] });
    } catch (e) {
      return this.onFailure(sink, g.jobId, g.events.filter((ev) => !marked.has(ev.id)), e);
    }
  }

  private joinGroup(ch: ChannelCrowd, requester: Requester, target: NotifyTarget, jobId: number, now: number): void {
    let group = ch.groups.get(requester.id);
    if (!group) ch.groups.set(requester.id, (group = { requester, target, jobIds: [], firstEndAt: now }));
    if (!group.jobIds.includes(jobId)) group.jobIds.push(jobId);
  }

  /**
   * The requester's grouped mention if it is due (crowd.ts `groupDueAt`), else when it will be.
   * Once made, the final event of every job it names is marked delivered.
   */
  private async mentionGroup(sink: NotificationSink, ch: ChannelCrowd, requesterId: string, g: JobGroup): Promise<number | null> {
    const group = ch.groups.get(requesterId);
    if (!group) return null;
    const now = this.now();
    const requesterLive = this.requesterLive(ch, requesterId);
    const due = groupDueAt(group, { requesterLive, now, createFreeAt: ch.ledger.nextFreeAt(now) }, this.crowd!);
    if (due > now) return due;
    // The requester's other ended jobs whose end the summary shows at its next edit: wait for it
    // (within the window), so they are named here rather than in mentions of their own after.
    // One look (a query per summary job) per wait, not one per delivery of a waiting job.
    if (group.settleUntil !== undefined && now < group.settleUntil) return group.settleUntil;
    const unsettled = this.sweepInto(group, ch);
    const windowEnd = group.firstEndAt + this.crowd!.groupWindowMs;
    if (unsettled && now < windowEnd) {
      const nextEdit = Math.max(now, (ch.summary?.editAt ?? now) + this.crowd!.summaryEditMs);
      group.settleUntil = Math.min(windowEnd, nextEdit + 50);
      return group.settleUntil;
    }
    group.settleUntil = undefined;
    // One mention names at most MAX_GROUP jobs (its text must name each within Discord's 2000
    // characters); more wait for the next.
    const ids = [...group.jobIds].sort((a, b) => a - b).slice(0, MAX_GROUP);
    try {
      const fresh = ids.filter((id) => !this.groupAnnounced.has(id));
      if (fresh.length > 0) {
        const jobs = fresh.map((id) => this.store.get(id)).filter((j): j is Job => j !== undefined);
        if (jobs.length > 0) {
          this.counted(ch);
          await sink.announceEnd(group.target, groupEndView(jobs, now));
          this.stats.announces++;
        }
        for (const id of fresh) this.groupAnnounced.add(id);
      }
      for (const id of ids) {
        for (const e of this.outbox.pendingOfJob(id, 0)) {
          if (!FINAL_EVENT_TYPES.has(e.type)) continue;
          await this.durably(() => this.outbox.markDelivered(e.id), id);
          this.stats.delivered++;
        }
        this.groupAnnounced.delete(id);
        this.summaryOf.delete(id);
        this.messageIds.delete(id);
        this.lastEditAt.delete(id);
      }
      group.jobIds = group.jobIds.filter((id) => !ids.includes(id));
      if (group.jobIds.length === 0) ch.groups.delete(requesterId);
      this.sinkGates.delete(sink.adapter);
      return null;
    } catch (e) {
      if (isPermanentSinkError(e)) {
        // The channel is gone or closed to the bot: the whole group's mention is, not just this
        // job's. Drop every final event it holds (logged by onFailure), and forget the group.
        for (const id of ids) {
          if (id === g.jobId) continue;
          for (const ev of this.outbox.pendingOfJob(id, 0)) if (FINAL_EVENT_TYPES.has(ev.type)) this.tryWrite(ev, () => this.outbox.markDelivered(ev.id));
          this.summaryOf.delete(id);
          this.groupAnnounced.delete(id);
        }
        this.summaryOf.delete(g.jobId);
        ch.groups.delete(requesterId);
      }
      return this.onFailure(sink, g.jobId, g.events, e);
    }
  }

  /**
   * Before a grouped mention goes: the requester's other summary jobs that ended and are shown
   * so (nothing but their final event left to deliver) join it, instead of each following with
   * a mention of its own a moment later. True when some ended job of theirs is not shown so yet.
   */
  private sweepInto(group: MentionGroup, ch: ChannelCrowd): boolean {
    let unsettled = false;
    for (const [id, summary] of this.summaryOf) {
      if (group.jobIds.includes(id) || this.channels.get(channelKey(summary.target)) !== ch) continue;
      const row = this.store.get(id);
      if (!row || row.finishedAt === null || row.requester.id !== group.requester.id) continue;
      const pending = this.outbox.pendingOfJob(id, 0);
      if (pending.length > 0 && pending.every((e) => FINAL_EVENT_TYPES.has(e.type))) group.jobIds.push(id);
      else if (pending.length > 0) unsettled = true;
    }
    return unsettled;
  }

  /**
   * Whether the requester still has a job under way in the channel, read from the job rows (the
   * truth, ahead of the events not yet delivered): one in a summary of the channel, or one with
   * its own message.
   */
  private requesterLive(ch: ChannelCrowd, requesterId: string): boolean {
    const summaries = new Set<Summary>();
    for (const summary of this.summaryOf.values()) if (this.channels.get(channelKey(summary.target)) === ch) summaries.add(summary);
    if (ch.summary) summaries.add(ch.summary);
    for (const summary of summaries) if (this.drawSummary(summary).liveRequesters.has(requesterId)) return true;
    for (const id of ch.ownLive) {
      if (typeof id !== 'number' || ch.live.get(id) !== requesterId) continue;
      const row = this.store.get(id);
      if (row && row.finishedAt === null) return true;
    }
    return false;
  }

  /** A message create in this channel: counted against the channel's create budget. */
  private counted(ch: ChannelCrowd | undefined): void {
    this.stats.creates++;
    ch?.ledger.record(this.now());
  }

  /**
   * One job's events when the job belongs to a batch (docs/commands.md "Patterns"): the batch
   * has ONE status message, stored on its lead job, showing every VM's line and a progress bar;
   * an edit that would show what the message already shows is skipped (a batch of 50 accepted
   * at once is one post, not 50 edits). The completion mention is ONE per batch: made by the
   * delivery of the last job's final event, once every job of the batch has ended — same
   * exactly-once rule as a job's (in memory, then the final event marked).
   */
  private async deliverBatchGroup(sink: NotificationSink, g: JobGroup, batchId: number): Promise<number | null> {
    const now = this.now();
    const ready = this.ready(sink, g, this.batchEditAt.get(batchId), now);
    if (typeof ready === 'number') return ready;
    const { finalEvent, marked, mark } = ready;
    try {
      const jobs: Job[] = this.store.batch!(batchId);
      const lead = jobs[0];
      const current = jobs.find((j) => j.id === g.jobId);
      if (!lead || !current) return this.deliverJobGroup(sink, g);
      const view = batchView(jobs, now);
      // A batch is one message in its channel: it counts as one job with its own message.
      const ch = this.crowd ? this.channel(lead.notify) : undefined;
      if (jobs.every((j) => j.finishedAt !== null)) ch?.ownLive.delete(`b${batchId}`);
      else ch?.ownLive.add(`b${batchId}`);
      const shown = JSON.stringify([view.state, view.title, view.lines.filter((l) => !l.startsWith('Duration: '))]);
      const stored = lead.statusMessageId;
      const known = this.batchMessageIds.get(batchId) ?? stored;
      if (known === null || this.batchShown.get(batchId) !== shown) {
        const messageId = await sink.upsertStatus(lead.notify, known, view);
        this.stats.upserts++;
        if (messageId !== known) this.counted(ch);
        this.batchEditAt.set(batchId, this.now());
        this.batchMessageIds.set(batchId, messageId);
        this.batchShown.set(batchId, shown);
        if (messageId !== stored) await this.durably(() => this.store.setStatusMessage(lead.id, messageId), lead.id);
      }
      if (sink.approvalChanged && this.approvals && mayHaveSettledApproval(g.events)) {
        const approval = this.approvals.get(g.jobId);
        if (approval && approval.state !== 'pending') await sink.approvalChanged(approval, current);
      }
      for (const e of g.events) if (e !== finalEvent) await mark(e);
      if (finalEvent) {
        const allEnded = jobs.every((j) => j.finishedAt !== null);
        // Another job's final event still to deliver: that delivery is the batch's last, and announces.
        const othersPending = jobs.some((j) => j.id !== g.jobId && this.outbox.pendingOfJob(j.id, 0).some((e) => FINAL_EVENT_TYPES.has(e.type)));
        // A quiet batch (a schedule's run) that succeeded is its edited message alone: no mention.
        const quiet = lead.quiet && view.state === 'succeeded';
        if (allEnded && !othersPending && !quiet && !this.batchAnnounced.has(batchId)) {
          this.counted(ch);
          await sink.announceEnd(lead.notify, view);
          this.stats.announces++;
          this.batchAnnounced.add(batchId);
        }
        await mark(finalEvent);
        if (allEnded && !othersPending) {
          this.batchEditAt.delete(batchId);
          this.batchMessageIds.delete(batchId);
          this.batchShown.delete(batchId);
          this.batchAnnounced.delete(batchId);
        }
      }
      this.jobGates.delete(g.jobId);
      this.sinkGates.delete(sink.adapter);
      return null;
    } catch (e) {
      return this.onFailure(sink, g.jobId, g.events.filter((ev) => !marked.has(ev.id)), e);
    }
  }

  private async deliverJobGroup(sink: NotificationSink, g: JobGroup, ch?: ChannelCrowd): Promise<number | null> {
    const last = g.events[g.events.length - 1]!;
    const job = last.job;
    const now = this.now();
    const ready = this.ready(sink, g, this.lastEditAt.get(g.jobId), now);
    if (typeof ready === 'number') return ready;
    const { finalEvent, marked, mark } = ready;
    try {
      const view = statusView(job, now);
      // The job row, not the event: it has the status message id, and the payload an approval
      // message describes the job by.
      const current = this.store.get(g.jobId);
      const stored = current?.statusMessageId ?? null;
      // `summary` is no message id: with crowding off, such a job gets a message of its own.
      const remembered = this.messageIds.get(g.jobId) ?? stored;
      const known = remembered === IN_SUMMARY ? null : remembered;
      const messageId = await sink.upsertStatus(job.notify, known, view);
      this.stats.upserts++;
      if (messageId !== known) this.counted(ch);
      this.lastEditAt.set(g.jobId, this.now());
      // Kept before it is stored: if storing must wait or fails, the retry edits this message.
      this.messageIds.set(g.jobId, messageId);
      if (messageId !== stored) {
        // Stored at once: a crash after this point edits the same message instead of posting another.
        await this.durably(() => this.store.setStatusMessage(g.jobId, messageId), g.jobId);
      }

      if (sink.approvalChanged && this.approvals && current && mayHaveSettledApproval(g.events)) {
        const approval = this.approvals.get(g.jobId);
        if (approval && approval.state !== 'pending') await sink.approvalChanged(approval, current);
      }

      for (const e of g.events) if (e !== finalEvent) await mark(e);
      if (finalEvent && ch) {
        ch.ownLive.delete(g.jobId);
        // A crowded channel: this mention joins the requester's grouped one.
        if (ch.summary !== null || ch.groups.size > 0) {
          this.joinGroup(ch, finalEvent.job.requester, finalEvent.job.notify, g.jobId, now);
          this.jobGates.delete(g.jobId);
          return this.mentionGroup(sink, ch, finalEvent.job.requester.id, { jobId: g.jobId, events: [finalEvent] });
        }
        // Its own mention waits for the channel's create budget rather than in discord.js' queue.
        const freeAt = ch.ledger.nextFreeAt(now);
        if (!this.announced.has(g.jobId) && freeAt > now) return freeAt;
      }
      if (finalEvent) {
        if (!this.announced.has(g.jobId)) {
          this.counted(ch);
          await sink.announceEnd(job.notify, statusView(finalEvent.job, now));
          this.stats.announces++;
          this.announced.add(g.jobId);
        }
        await mark(finalEvent);
        // Finished: nothing more will come for this job.
        this.announced.delete(g.jobId);
        this.lastEditAt.delete(g.jobId);
        this.messageIds.delete(g.jobId);
      }
      this.jobGates.delete(g.jobId);
      this.sinkGates.delete(sink.adapter);
      return null;
    } catch (e) {
      return this.onFailure(sink, g.jobId, g.events.filter((ev) => !marked.has(ev.id)), e);
    }
  }

  /**
   * Whether a job's events may go now (its and the sink's backoff, the progress-edit pace from
   * `lastEditAt`): when to look again, or its final event and the marker of delivered events.
   */
  private ready(sink: NotificationSink, g: JobGroup, lastEditAt: number | undefined, now: number): number | { finalEvent: JobEvent | undefined; marked: Set<number>; mark: (e: JobEvent) => Promise<void> } {
    const gateAt = Math.max(this.sinkGates.get(sink.adapter)?.nextTryAt ?? 0, this.jobGates.get(g.jobId)?.nextTryAt ?? 0);
    if (gateAt > now) return gateAt;
    const plan = planDelivery(g.events.map((e) => e.type), { lastEditAt, now, minProgressEditMs: this.minProgressEditMs });
    if (plan.action === 'wait') return plan.until;
    const marked = new Set<number>();
    const mark = async (e: JobEvent) => {
      await this.durably(() => this.outbox.markDelivered(e.id), g.jobId);
      marked.add(e.id);
      this.stats.delivered++;
    };
    return { finalEvent: g.events.find((e) => FINAL_EVENT_TYPES.has(e.type)), marked, mark };
  }

  /** A database write of this notifier, retried while the database is busy (see dbPatienceMs). */
  private durably(write: () => void, jobId: number): Promise<void> {
    return retryWhileBusy(write, {
      maxWaitMs: this.dbPatienceMs,
      signal: this.halt.signal,
      onRetry: (e, retry) => {
        if (retry === 1) this.log.warn({ jobId, err: e.message }, 'database busy: notification delivered, not yet recorded; retrying');
      },
    });
  }

  private onFailure(sink: NotificationSink, jobId: number, pending: JobEvent[], e: unknown): number | null {
    const message = e instanceof Error ? e.message : String(e);
    const now = this.now();
    if (isKvmopsError(e, 'db-busy') || this.halt.signal.aborted) {
      // Our database, not the chat: the sink is not backed off, and there is nothing to record
      // the failure in. What the chat already has is in memory; the retry builds on it.
      this.stats.failures++;
      const at = bump(this.jobGates, jobId, now, this.backoff, this.random);
      this.log.warn({ jobId, err: message, retryInMs: at - now }, 'notification not recorded (database busy); will retry');
      return at;
    }
    for (const ev of pending) this.tryWrite(ev, () => this.outbox.markAttemptFailed(ev.id, message));
    if (isPermanentSinkError(e)) {
      this.log.warn({ jobId, adapter: sink.adapter, err: message }, 'notification dropped: permanent sink error');
      for (const ev of pending) this.tryWrite(ev, () => this.outbox.markDelivered(ev.id));
      this.stats.dropped += pending.length;
      this.announced.delete(jobId);
      return null;
    }
    this.stats.failures++;
    const sinkGate = bump(this.sinkGates, sink.adapter, now, this.backoff, this.random);
    const jobGate = bump(this.jobGates, jobId, now, this.backoff, this.random);
    this.log.warn({ jobId, adapter: sink.adapter, err: message, retryInMs: jobGate - now }, 'notification failed; will retry');
    return Math.max(sinkGate, jobGate);
  }

  private tryWrite(e: JobEvent, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, eventId: e.id }, 'outbox write failed');
    }
  }
}

function bump<K>(gates: Map<K, Gate>, key: K, now: number, policy: DeliveryBackoff, random: () => number): number {
  const failures = (gates.get(key)?.failures ?? 0) + 1;
  const nextTryAt = now + deliveryDelay(failures, policy, random);
  gates.set(key, { failures, nextTryAt });
  return nextTryAt;
}

/** Most jobs one grouped mention names. */
export const MAX_GROUP = 150;

function channelKey(target: NotifyTarget): string {
  return `${target.adapter}:${target.channelId}`;
}

/** Pending events by job, jobs in the order of their oldest pending event. */
export function groupByJob(events: readonly JobEvent[]): JobGroup[] {
  const byJob = new Map<number, JobGroup>();
  for (const e of events) {
    let g = byJob.get(e.jobId);
    if (!g) byJob.set(e.jobId, (g = { jobId: e.jobId, events: [] }));
    g.events.push(e);
  }
  return [...byJob.values()];
}
