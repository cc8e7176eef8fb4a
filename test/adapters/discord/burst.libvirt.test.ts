/**
 * Issue 25: a burst of 100 commands does not flood the channel. The real discord.js Client
 * against the Discord API emulator, which enforces Discord's message-create limit (5 per 5 s
 * per channel, with its X-RateLimit headers and 429s); the real adapter, store, worker and
 * notifier; 100 `/vm stop` jobs on 100 diskless, shut-off VMs of the local libvirt (each ends
 * in a moment: the VM is already off), from two requesters.
 *
 * What the channel must see: at most 5 message creates in any 5 s, none refused with a 429, at
 * most `maxCreates` in all (13 when the jobs end within 30 s); every job's id in its
 * interaction reply; every job's end state in its own status message or in the channel
 * summary; every job named by exactly one completion mention, which mentions its requester (a
 * grouped one names only that requester's jobs). It prints the figures (creates, worst 5 s,
 * edits, time until the last completion is visible).
 *
 * Run: node --import tsx --test test/adapters/discord/burst.libvirt.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MessageRecord } from '../../discord-emulator/index.js';
import { defineMany, skipUnlessLibvirt } from '../../helpers/libvirt.js';
import { run, type Answer } from './helpers.js';
import { DiscordWorld, USER, embedOf } from './world.js';

const skip = skipUnlessLibvirt();

const COMMANDS = Number(process.env.BURST_COMMANDS ?? 100);
/**
 * The creates a burst may cost: 3 jobs with their own status message + 1 channel summary + their
 * mentions (3 at most, if they end before the summary opens) + grouped mentions: per requester,
 * one per 15 s window while their jobs keep ending, and one at the end. The old notifier made
 * 200 (a status message and a mention per job).
 */
function maxCreates(requesters: number, endingMs: number): number {
  return 3 + 1 + 3 + requesters * (Math.ceil(endingMs / 15_000) + 1);
}

/** Most creates within any `windowMs` (creates sorted by time). */
function worstWindow(times: number[], windowMs: number): number {
  let worst = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    worst = Math.max(worst, i - j + 1);
  }
  return worst;
}

/** The message's text as the channel shows it: content, embed title, description, fields, footer. */
function textOf(m: MessageRecord): string {
  const e = embedOf(m);
  return [m.content, e?.title, e?.description, ...(e?.fields ?? []).map((f) => `${f.name}: ${f.value}`), e?.footer?.text].filter(Boolean).join('\n');
}

describe('Discord: a burst of 100 commands in one channel', skip, () => {
  let w: DiscordWorld;
  let vms: string[];

  before(async () => {
    w = new DiscordWorld('bu');
    vms = defineMany(Array.from({ length: COMMANDS }, (_, i) => w.lab.vmName(`v${String(i).padStart(3, '0')}`)));
    await w.start();
  });
  after(async () => {
    await w?.close();
  });

  it('stays within Discord’s create limit; every job answered, shown ended, and mentioned once', async () => {
    const requesters = [USER.alice, USER.root];
    const t0 = Date.now();
    const answers: Answer[] = await Promise.all(vms.map((vm, i) => run(w, requesters[i % 2]!, 'vm', 'stop', { vm })));
    const answeredAt = Date.now();
    const ids = answers.map((a, i) => {
      assert.ok(a.jobId, `command ${i} (${vms[i]}): the reply names its job: ${a.text}`);
      return a.jobId;
    });
    assert.equal(new Set(ids).size, COMMANDS, 'a job per command');

    const jobs = await Promise.all(ids.map((id) => w.finished(id, 180_000)));
    const lastEnded = Math.max(...jobs.map((j) => j.finishedAt!));
    const bound = maxCreates(requesters.length, lastEnded - Math.min(...jobs.map((j) => j.finishedAt!)));
    for (const j of jobs) assert.equal(j.state, 'succeeded', `job #${j.id}: ${j.error?.code ?? ''} ${j.error?.message ?? ''}`);
    // Every notification delivered: nothing left in the outbox.
    await w.emulator.waitFor(() => (w.store.outbox.pending('discord', 10).length === 0 ? true : undefined), 120_000, 'the outbox drained');
    const channel = w.emulator.messages().filter((m) => !m.ephemeral && m.interactionId === null);
    const creates = w.emulator.requests('POST /channels/:channel/messages').filter((r) => r.status === 200);
    const lastVisible = Math.max(...channel.map((m) => Math.max(m.createdAt, m.editedAt ?? 0)));

    // ---- every job's end state: its own status message, or its line in a channel summary ----
    const summaries = channel.filter((m) => embedOf(m)?.footer?.text?.startsWith('channel summary'));
    for (const j of jobs) {
      const own = w.statusMessages(j.id);
      if (own.length > 0) {
        assert.equal(own.length, 1, `job #${j.id}: one status message`);
        assert.match(textOf(own[0]!), /State: succeeded/, `job #${j.id}: its message shows the end`);
        continue;
      }
      const line = summaries
        .flatMap((m) => (embedOf(m)?.description ?? '').split('\n'))
        .find((l) => new RegExp(`#${j.id}\\b`).test(l));
      assert.ok(line, `job #${j.id}: a line in a channel summary`);
      assert.match(line, /succeeded/, `job #${j.id}: its summary line shows the end: ${line}`);
    }

    // ---- every job named by exactly one mention, which pings its requester only ----
    const mentions = channel.filter((m) => m.mentionUserIds.length > 0);
    const namedBy = new Map<number, number>();
    for (const m of mentions) {
      assert.equal(m.mentionUserIds.length, 1, `one requester per mention: ${m.content}`);
      const named = [...m.content.matchAll(/#(\d+)/g)].map((x) => Number(x[1]));
      assert.ok(named.length > 0, m.content);
      for (const id of named) {
        namedBy.set(id, (namedBy.get(id) ?? 0) + 1);
        assert.equal(w.job(id).requester.id, m.mentionUserIds[0], `job #${id} is mentioned to its requester`);
      }
    }
    for (const id of ids) assert.equal(namedBy.get(id), 1, `job #${id}: named by exactly one completion mention`);

    // ---- the channel was not flooded ----
    const times = creates.map((r) => r.at).sort((a, b) => a - b);
    const worst = worstWindow(times, 5_000);
    const report = {
      creates: creates.length,
      bound,
      worstCreatesIn5s: worst,
      rateLimited: w.emulator.rateLimitedCount,
      rateLimitedRoutes: [...new Set(w.emulator.requests().filter((r) => r.injected === 'ratelimit').map((r) => `${r.method} ${r.route}`))],
      summaries: summaries.length,
      mentions: mentions.length,
      answeredMs: answeredAt - t0,
      slowestAckMs: Math.max(...answers.map((a) => a.ack.receivedAfterMs)),
      lastJobEndedMs: lastEnded - t0,
      lastCompletionVisibleMs: lastVisible - t0,
      edits: channel.reduce((n, m) => n + m.edits.length, 0),
      worstEditsIn5s: worstWindow(channel.flatMap((m) => m.edits.map((e) => e.at)).sort((a, b) => a - b), 5_000),
    };
    if (process.env.BURST_DEBUG) for (const m of channel) console.log(m.id, m.createdAt - t0, m.edits.length, textOf(m).slice(0, 300).replace(/\n/g, " / "));
    console.log(`burst figures: ${JSON.stringify(report)}`);
    assert.equal(w.emulator.rateLimitedCount, 0, 'no 429 served');
    assert.ok(worst <= 5, `at most 5 creates in any 5 s (Discord's limit), saw ${worst}`);
    assert.ok(creates.length <= bound, `at most ${bound} creates, saw ${creates.length}`);
    assert.ok(creates.length <= 30, `far fewer than a message per job and event: ${creates.length}`);
    assert.deepEqual(w.emulator.unknownRoutes(), []);
  });
});
