import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseSshPublicKey, MAX_KEYS_PER_PERSON } from '../../src/domain/ssh-keys.js';
import { withNames } from '../../src/chat/people.js';
import type { Reply } from '../../src/chat/types.js';
import { newEd25519Line } from '../helpers/ssh-keys.js';
import { USERS, makeWorld, type World } from './fixture.js';

/** /key over the real store, and what a /deploy captures of the requester's keys. */

let w: World;
beforeEach(() => {
  w = makeWorld({ rateLimit: 'off', readRateLimit: 'off' });
});
afterEach(() => w.close());

const text = (r: Reply) => [r.title, ...r.lines].map(withNames).join('\n');
const keysOf = (userId: string) => w.store.keys.list(userId).map((k) => k.name);

describe('/key', () => {
  it('add, list and remove the typing person’s own keys, ephemeral, for viewers and up', async () => {
    const a = newEd25519Line('carol@laptop');
    const added = await w.run(USERS.carol, 'key', 'add', { key: a });
    assert.equal(added.code, undefined, text(added));
    assert.equal(added.visibility, 'ephemeral');
    assert.equal(added.title, 'Key "carol@laptop" added');
    const fp = parseSshPublicKey(a).fingerprint;
    assert.match(added.lines[0]!, new RegExp(`^256 ${fp.replace(/[+/]/g, '\\$&')} \\(ED25519\\)$`));

    const list = await w.run(USERS.carol, 'key', 'list', {});
    assert.equal(list.visibility, 'ephemeral');
    assert.match(text(list), /Your SSH keys \(1 of at most 20\)/);
    assert.ok(list.lines[0]!.startsWith(`carol@laptop · 256 ${fp} (ED25519) · carol@laptop · added `), list.lines[0]);
    // another person sees only their own
    assert.match(text(await w.run(USERS.alice, 'key', 'list', {})), /\(0 of at most 20\)/);

    const removed = await w.run(USERS.carol, 'key', 'remove', { name: 'carol@laptop' });
    assert.equal(removed.title, 'Key "carol@laptop" removed');
    assert.equal(removed.visibility, 'ephemeral');
    assert.deepEqual(keysOf('carol'), []);
  });

  it('someone with no role is refused', async () => {
    const r = await w.run(USERS.dave, 'key', 'add', { key: newEd25519Line() });
    assert.equal(r.code, 'forbidden');
    assert.deepEqual(keysOf('dave'), []);
  });

  it('a bad key is refused with the reason and nothing is stored', async () => {
    const good = newEd25519Line('x');
    const [type, b64] = good.split(' ') as [string, string];
    const cases: Array<[string, RegExp]> = [
      [`${type} ${b64.slice(0, -8)}`, /cut short|base64/],
      ['ssh-dss AAAAB3NzaC1kc3M= old', /ssh-dss is not accepted/],
      ['-----BEGIN OPENSSH PRIVATE KEY-----', /private key/],
      [`from="10.0.0.1" ${good}`, /options before the key/],
      [`ssh-rsa ${b64}`, /the line says ssh-rsa but the key data holds ssh-ed25519/],
      ['', /empty/],
    ];
    for (const [key, why] of cases) {
      const r = await w.run(USERS.carol, 'key', 'add', { key });
      assert.equal(r.code, 'invalid-input', `${key}: ${text(r)}`);
      assert.match(text(r), why);
    }
    assert.deepEqual(keysOf('carol'), []);
  });

  it('the same key twice (another comment or name) is refused, and so is a name taken', async () => {
    const a = newEd25519Line('first');
    await w.run(USERS.carol, 'key', 'add', { key: a, name: 'work' });
    const again = await w.run(USERS.carol, 'key', 'add', { key: `${a.split(' ').slice(0, 2).join(' ')}   renamed`, name: 'other' });
    assert.equal(again.code, 'key-exists');
    assert.match(text(again), /already added this key, as "work"/);
    const taken = await w.run(USERS.carol, 'key', 'add', { key: newEd25519Line(), name: 'work' });
    assert.equal(taken.code, 'name-taken');
    assert.deepEqual(keysOf('carol'), ['work']);
    // another person may store the same key under the same name
    assert.equal((await w.run(USERS.alice, 'key', 'add', { key: a, name: 'work' })).code, undefined);
  });

  it('without a name: the comment when it is a valid name, else the type, then -2, -3', async () => {
    await w.run(USERS.carol, 'key', 'add', { key: newEd25519Line('has spaces in it') });
    await w.run(USERS.carol, 'key', 'add', { key: newEd25519Line() });
    await w.run(USERS.carol, 'key', 'add', { key: newEd25519Line('me@pc') });
    assert.deepEqual(keysOf('carol'), ['ed25519', 'ed25519-2', 'me@pc']);
  });

  it(`at most ${MAX_KEYS_PER_PERSON} keys a person`, async () => {
    for (let i = 0; i < MAX_KEYS_PER_PERSON; i++) assert.equal((await w.run(USERS.carol, 'key', 'add', { key: newEd25519Line() })).code, undefined);
    const r = await w.run(USERS.carol, 'key', 'add', { key: newEd25519Line() });
    assert.equal(r.code, 'invalid-input');
    assert.match(text(r), /remove one first/);
    assert.equal(keysOf('carol').length, MAX_KEYS_PER_PERSON);
  });

  it('removing a key one does not have: key-not-found', async () => {
    const r = await w.run(USERS.carol, 'key', 'remove', { name: 'ghost' });
    assert.equal(r.code, 'key-not-found');
  });
});

describe('/deploy and the requester’s keys', () => {
  it('captures the requester’s keys at request time into the payload; not another person’s; none → no field', async () => {
    const mine = newEd25519Line('alice@laptop');
    await w.run(USERS.alice, 'key', 'add', { key: mine });
    await w.run(USERS.bob, 'key', 'add', { key: newEd25519Line('bob@desk') });
    const r = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web-07' });
    assert.ok(r.jobId, text(r));
    const job = w.store.get(r.jobId!)!;
    assert.deepEqual((job.payload as { sshKeys?: string[] }).sshKeys, [parseSshPublicKey(mine).line]);
    // removing the key later does not change what was asked
    await w.run(USERS.alice, 'key', 'remove', { name: 'alice@laptop' });
    assert.deepEqual((w.store.get(r.jobId!)!.payload as { sshKeys?: string[] }).sshKeys, [parseSshPublicKey(mine).line]);

    const none = await w.run(USERS.erin, 'deploy', null, { template: 'base', name: 'web-08' });
    assert.equal('sshKeys' in (w.store.get(none.jobId!)!.payload as object), false);
  });
});
