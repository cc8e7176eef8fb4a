import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AUDIT_LIST_LIMIT } from '../../commands/audit.js';
import { withNames } from '../../src/chat/people.js';
import type { Reply } from '../../src/chat/types.js';
import { PLACE, USERS, makeWorld, user, type World } from './fixture.js';

/** /audit over the real store: who may read it, its filters, its lines, and the cut. */

let w: World;
beforeEach(() => {
  w = makeWorld({ rateLimit: 'off', readRateLimit: 'off' });
});
afterEach(() => w.close());

const text = (r: Reply) => [r.title, ...r.lines].map(withNames).join('\n');
/** The rows of a reply (lines with a "·"), as the shell shows them. */
const rows = (r: Reply) => r.lines.filter((l) => l.includes(' · ')).map(withNames);

describe('/audit', () => {
  it('is for admins: an operator, a viewer and an approver are refused, and the refusal is audited', async () => {
    for (const u of [USERS.alice, USERS.carol, USERS.victor]) {
      const r = await w.run(u, 'audit', null, {});
      assert.equal(r.code, 'forbidden', `${u.id}: ${JSON.stringify(r)}`);
      assert.equal(r.visibility, 'ephemeral');
      assert.equal(w.audit()[0]?.command, 'audit');
      assert.equal(w.audit()[0]?.outcome, 'refused');
    }
    const ok = await w.run(USERS.erin, 'audit', null, {});
    assert.equal(ok.code, undefined, JSON.stringify(ok));
    assert.equal(ok.visibility, 'ephemeral');
    assert.equal(ok.title, 'Audit, last 24h');
  });

  it('one line per command, newest first: when, who, what, accepted with the job or refused with the reason', async () => {
    const deploy = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web-02' });
    w.clock.advance(60_000);
    await w.run(USERS.carol, 'vm', 'start', { vm: 'web-01' });
    w.clock.advance(60_000);
    await w.run(USERS.carol, 'job', 'list', {});
    const r = await w.run(USERS.erin, 'audit', null, {});
    const at = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
    const t = w.clock.now();
    assert.deepEqual(rows(r), [
      `${at(t)} UTC · carol · /job list · read`,
      `${at(t - 60_000)} UTC · carol · /vm start · refused: forbidden`,
      `${at(t - 120_000)} UTC · alice · /deploy · accepted: job #${deploy.jobId}`,
    ]);
    // Who is a person marker (Discord draws a mention that does not ping), when a moment marker.
    assert.match(r.lines[0]!, /\u0001carol\u001fcarol\u0002/);
    assert.match(r.lines[0]!, /^\u0003\d+\u0004/);
    assert.doesNotMatch(text(r), /showing/);
  });

  it('filters by user (an id, @name or a mention), by command (as typed, with a slash or not) and by since', async () => {
    await w.run(USERS.alice, 'job', 'list', {});
    await w.run(USERS.carol, 'job', 'list', {});
    await w.run(USERS.carol, 'job', 'status', { id: 1 });
    const snow = user('123456789012345678', ['viewer']);
    await w.run(snow, 'job', 'list', {});

    for (const spelling of ['carol', '@carol']) {
      const r = await w.run(USERS.erin, 'audit', null, { user: spelling });
      assert.deepEqual(rows(r).map((l) => l.split(' · ').slice(1).join(' · ')), ['carol · /job status · refused: job-not-found', 'carol · /job list · read'], spelling);
      assert.equal(withNames(r.lines[0]!), 'only carol');
    }
    const mention = await w.run(USERS.erin, 'audit', null, { user: '<@123456789012345678>' });
    assert.equal(rows(mention).length, 1);
    assert.match(rows(mention)[0]!, /123456789012345678 · \/job list/);

    for (const spelling of ['job list', '/job  list', 'Job List']) {
      const r = await w.run(USERS.erin, 'audit', null, { command: spelling });
      assert.equal(r.title, 'Audit, last 24h, /job list', spelling);
      assert.deepEqual(rows(r).map((l) => l.split(' · ')[1]), ['123456789012345678', 'carol', 'alice'], spelling);
    }
    const both = await w.run(USERS.erin, 'audit', null, { user: 'alice', command: 'job status' });
    assert.deepEqual(both.lines, ['only \u0001alice\u001falice\u0002', '(nothing audited matches)']);

    w.clock.advance(3 * 3_600_000);
    await w.run(USERS.alice, 'job', 'list', {});
    const recent = await w.run(USERS.erin, 'audit', null, { since: '2h' });
    assert.equal(recent.title, 'Audit, last 2h');
    // The admin's own earlier /audit reads are rows too; within 2h only alice's last list.
    assert.deepEqual(rows(recent).map((l) => l.split(' · ').slice(1, 3).join(' ')), ['alice /job list']);
    const day = await w.run(USERS.erin, 'audit', null, { since: '1d', command: 'job list' });
    assert.equal(rows(day).length, 4);
  });

  it('refuses a since that is not a positive duration, and a command that is not one', async () => {
    for (const since of ['soon', '0h', '7 days', '3651d', '-1d']) {
      const r = await w.run(USERS.erin, 'audit', null, { since });
      assert.equal(r.code, 'invalid-input', since);
      assert.match(text(r), /since:/, since);
    }
    for (const command of ['rm -rf /', 'a b c', '']) {
      const r = await w.run(USERS.erin, 'audit', null, { command });
      assert.equal(r.code, 'invalid-input', command);
    }
    assert.equal((await w.run(USERS.erin, 'audit', null, { user: 'x y' })).code, 'invalid-input');
  });

  it(`shows at most ${AUDIT_LIST_LIMIT} lines and says "showing 1–${AUDIT_LIST_LIMIT} of N" with how to narrow it; the next page goes on`, async () => {
    for (let i = 0; i < 24; i++) {
      await w.run(USERS.carol, 'job', 'list', {});
      w.clock.advance(1000);
    }
    await w.run(USERS.alice, 'job', 'list', {});
    const r = await w.run(USERS.erin, 'audit', null, {});
    assert.equal(rows(r).length, AUDIT_LIST_LIMIT);
    assert.match(rows(r)[0]!, / alice · /, 'newest first');
    assert.equal(r.lines.at(-1), `showing 1–${AUDIT_LIST_LIMIT} of 25; narrow it with user:, command:, a shorter since:`);
    assert.deepEqual(r.page, { offset: 0, limit: AUDIT_LIST_LIMIT, total: 25 });
    // the next page (a Next click: the same invocation from an offset): the first /audit is a
    // row now too, so 26 in all and the oldest six here
    const next = await w.router.handle({ command: 'audit', subcommand: null, options: {}, user: USERS.erin, place: PLACE, offset: AUDIT_LIST_LIMIT });
    assert.equal(rows(next).length, 6);
    assert.match(rows(next).at(-1)!, / carol · \/job list/, 'the oldest row last');
    assert.equal(next.lines.at(-1), `showing 21–26 of 26; narrow it with user:, command:, a shorter since:`);

    const carol = await w.run(USERS.erin, 'audit', null, { user: 'carol', command: 'job list' });
    assert.equal(carol.lines.at(-1), `showing 1–${AUDIT_LIST_LIMIT} of 24; narrow it with a shorter since:`);
    // The three /audit reads above are rows now; the command filter finds them, uncut.
    const exact = await w.run(USERS.erin, 'audit', null, { command: 'audit' });
    assert.equal(rows(exact).length, 3);
    assert.doesNotMatch(text(exact), /showing/);
  });
});
