import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { USERS, makeWorld, type World } from './fixture.js';

/**
 * Templates travel: `/deploy host:B template:T` where T lives on another host only is accepted —
 * the job copies T to B once, then deploys (src/kinds/deploy.ts) — with T's creation time pinned
 * from the host that holds it; a template on no host is still refused, with no job.
 */
describe('/deploy of a template another host holds', () => {
  let w: World;
  beforeEach(() => {
    w = makeWorld();
  });
  afterEach(() => w.close());

  it('accepted on the host without it, the holder’s template pinned', async () => {
    assert.ok(!w.hv.inv('remote').templates.has('base'), 'the world: base is on local only');
    const r = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'far-web', host: 'remote' });
    assert.equal(r.code, undefined, `${r.title} ${r.lines.join(' ')}`);
    const job = w.store.get(r.jobId!)!;
    assert.equal(job.payload.host, 'remote');
    assert.equal(job.payload.template, 'base');
    const local = (await w.catalog.templates('local')).find((t) => t.name === 'base')!;
    assert.equal(job.payload.templateCreatedAt, local.createdAt, 'pinned: the template the requester saw');
  });

  it('a template on no host: template-not-found naming the host asked for, no job', async () => {
    const before = w.jobCount();
    const r = await w.run(USERS.alice, 'deploy', null, { template: 'nowhere', name: 'x', host: 'remote' });
    assert.equal(r.code, 'template-not-found');
    assert.match(r.title + r.lines.join(' '), /remote/);
    assert.equal(w.jobCount(), before);
  });
});
