import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LIST_COUNT_CAP } from '../../src/jobs/list.js';
import { notify, snapshotCreate } from '../jobs/helpers.js';
import { PLACE, USERS, makeWorld, type World } from './fixture.js';

/**
 * Lists that say how long they are: `/job list` pages of 20 newest first with "showing 21–40 of
 * 45", the page's place in `Reply.page` (the adapters' Previous / Next run the same command from
 * another offset), a filter counted by the same filter, and a page past the end said as such.
 */

describe('/job list pages', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
    // 45 jobs: carol requested every third one
    for (let i = 1; i <= 45; i++) {
      const requester = i % 3 === 0 ? { id: USERS.carol.id, name: USERS.carol.name } : { id: USERS.alice.id, name: USERS.alice.name };
      w.store.enqueue(snapshotCreate(`vm-${i}`, `s${i}`, { requester, notify }));
    }
  });
  afterEach(() => w.close());

  const list = (options: Record<string, string | boolean>, offset?: number) =>
    w.router.handle({ command: 'job', subcommand: 'list', options, user: USERS.carol, place: PLACE, ...(offset !== undefined ? { offset } : {}) });
  const ids = (lines: string[]) => lines.filter((l) => l.startsWith('#')).map((l) => Number(/^#(\d+)/.exec(l)![1]));

  it('the first page: the 20 newest, "showing 1–20 of 45", and its place for the buttons', async () => {
    const r = await list({});
    assert.equal(r.code, undefined, r.title);
    assert.deepEqual(ids(r.lines), Array.from({ length: 20 }, (_, i) => 45 - i));
    assert.equal(r.lines.at(-1), 'showing 1–20 of 45');
    assert.deepEqual(r.page, { offset: 0, limit: 20, total: 45 });
  });

  it('a later page continues where the first ended; the last says "41–45"', async () => {
    assert.deepEqual(ids((await list({}, 20)).lines), Array.from({ length: 20 }, (_, i) => 25 - i));
    const last = await list({}, 40);
    assert.deepEqual(ids(last.lines), [5, 4, 3, 2, 1]);
    assert.equal(last.lines.at(-1), 'showing 41–45 of 45');
  });

  it('mine:true pages and counts only the typing person’s jobs', async () => {
    const r = await list({ mine: true });
    assert.deepEqual(ids(r.lines), [45, 42, 39, 36, 33, 30, 27, 24, 21, 18, 15, 12, 9, 6, 3]);
    assert.ok(!r.lines.some((l) => l.startsWith('showing')), 'a whole list says no "showing"');
    assert.deepEqual(r.page, { offset: 0, limit: 20, total: 15 });
  });

  it('a page past the end (jobs pruned since the first page) says so', async () => {
    const r = await list({}, 60);
    assert.deepEqual(r.lines, ['(no jobs past 45: the list is shorter now)']);
  });

  it('a count beyond the cap is said as "more than"', async () => {
    // copies of job 1, finished (so no active-job uniqueness applies), each with its own request id
    const cols = (w.store.db.prepare('SELECT name FROM pragma_table_info(?)').all('jobs') as Array<{ name: string }>).map((c) => c.name).filter((c) => c !== 'id');
    const value = (c: string) => (c === 'state' ? `'succeeded'` : c === 'request_id' || c === 'dedupe_key' ? `${c} || '-' || @i` : c);
    const insert = w.store.db.prepare(`INSERT INTO jobs (${cols.join(', ')}) SELECT ${cols.map(value).join(', ')} FROM jobs WHERE id = 1`);
    w.store.db.transaction(() => {
      for (let i = 0; i < LIST_COUNT_CAP; i++) insert.run({ i });
    })();
    const r = await list({});
    assert.equal(r.lines.at(-1), `showing 1–20 of more than ${LIST_COUNT_CAP.toLocaleString('en-US')}`);
    assert.deepEqual(r.page, { offset: 0, limit: 20, total: LIST_COUNT_CAP, capped: true });
  });
});

describe('/template list and /snapshot list pages', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
    const local = w.hv.inv('local');
    for (let i = 1; i <= 30; i++) local.templates.set(`t${String(i).padStart(2, '0')}`, { dependents: [] });
    // a chain of 60 snapshots: each the child of the one before
    local.snapshots.set(
      'db',
      Array.from({ length: 60 }, (_, i) => ({ name: `s${String(i).padStart(2, '0')}`, parent: i === 0 ? null : `s${String(i - 1).padStart(2, '0')}` })),
    );
  });
  afterEach(() => w.close());

  const run = (command: string, options: Record<string, string>, offset?: number) =>
    w.router.handle({ command, subcommand: 'list', options, user: USERS.carol, place: PLACE, ...(offset !== undefined ? { offset } : {}) });
  const names = (lines: string[], re: RegExp) => lines.map((l) => re.exec(l)?.[1]).filter((x): x is string => x !== undefined);

  it('templates: 25 a page in name order under the column titles, then the rest', async () => {
    const first = await run('template', {});
    assert.equal(first.code, undefined, first.title);
    assert.match(first.lines[0]!, /^TEMPLATE\s+FROM/);
    const all = ['base', 'spare', ...Array.from({ length: 30 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`)].sort((a, b) => a.localeCompare(b));
    assert.deepEqual(names(first.lines.slice(1), /^(\S+)\s/), [...all.slice(0, 25), 'showing']);
    assert.equal(first.lines.at(-1), 'showing 1–25 of 32');
    assert.deepEqual(first.page, { offset: 0, limit: 25, total: 32 });
    const second = await run('template', {}, 25);
    assert.match(second.lines[0]!, /^TEMPLATE\s+FROM/, 'the titles head every page');
    assert.deepEqual(names(second.lines.slice(1), /^(\S+)\s/), [...all.slice(25), 'showing']);
    assert.equal(second.lines.at(-1), 'showing 26–32 of 32');
    assert.deepEqual((await run('template', {}, 50)).lines, ['(nothing past 32: the list is shorter now)']);
  });

  it('snapshots: the tree’s lines 50 a page, "showing 51–60 of 60" on the second', async () => {
    const first = await run('snapshot', { vm: 'db' });
    assert.equal(first.code, undefined, first.title);
    assert.deepEqual(names(first.lines, /(s\d\d) \(/), Array.from({ length: 50 }, (_, i) => `s${String(i).padStart(2, '0')}`));
    assert.equal(first.lines.at(-1), 'showing 1–50 of 60');
    const second = await run('snapshot', { vm: 'db' }, 50);
    assert.deepEqual(names(second.lines, /(s\d\d) \(/), Array.from({ length: 10 }, (_, i) => `s${50 + i}`));
    assert.equal(second.lines.at(-1), 'showing 51–60 of 60');
    // a short list is whole: no "showing", no page buttons wanted
    const short = await run('snapshot', { vm: 'web-01' });
    assert.ok(!short.lines.some((l) => l.startsWith('showing')));
    assert.deepEqual(short.page, { offset: 0, limit: 50, total: 2 });
  });
});
