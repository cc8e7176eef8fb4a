import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { profilesPort, readProfiles } from '../../src/config/profiles.js';
import { deployPayload } from '../../src/kinds/deploy.js';
import type { Reply } from '../../src/chat/types.js';
import { PLACE, USERS, makeWorld, type World } from './fixture.js';

/**
 * /deploy profile: over the real store: the profile's settings pinned into the payload at request
 * time; an unknown or refused profile, or none configured, refused with no job; autocomplete.
 */

let w: World;
let dir: string;
beforeEach(async () => {
  w = makeWorld({ rateLimit: { capacity: 1000 } });
  dir = mkdtempSync(path.join(tmpdir(), 'kvmops-profiles-'));
  writeFileSync(path.join(dir, 'web.yaml'), '#cloud-config\npackages: [nginx]\nruncmd:\n  - [touch, /var/tmp/web]\n');
  writeFileSync(path.join(dir, 'bad.yaml'), '#cloud-config\npackages: [nginx\n');
});
afterEach(() => {
  w.close();
  rmSync(dir, { recursive: true, force: true });
});

const text = (r: Reply) => [r.title, ...r.lines].join('\n');
const payloadOf = (r: Reply) => w.store.get(r.jobId!)!.payload as Record<string, unknown>;

describe('/deploy profile:', () => {
  it("pins the profile's name and settings into the payload as they were when asked for", async () => {
    w.services.profiles = profilesPort(await readProfiles(dir));
    const r = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web-07', profile: 'web' });
    assert.ok(r.jobId, text(r));
    assert.equal(payloadOf(r).profile, 'web');
    assert.deepEqual(payloadOf(r).profileUserData, { packages: ['nginx'], runcmd: [['touch', '/var/tmp/web']] });
    assert.match(text(r), /with profile web/);

    // the file changes and kvmops restarts with it: the queued job keeps what was asked
    writeFileSync(path.join(dir, 'web.yaml'), '#cloud-config\npackages: [apache2]\n');
    w.services.profiles = profilesPort(await readProfiles(dir));
    assert.deepEqual(payloadOf(r).profileUserData, { packages: ['nginx'], runcmd: [['touch', '/var/tmp/web']] });
    const again = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web-08', profile: 'web' });
    assert.deepEqual(payloadOf(again).profileUserData, { packages: ['apache2'] });
  });

  it('no profile asked: no profile fields', async () => {
    w.services.profiles = profilesPort(await readProfiles(dir));
    const r = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web-09' });
    assert.ok(r.jobId, text(r));
    assert.equal('profile' in payloadOf(r), false);
    assert.equal('profileUserData' in payloadOf(r), false);
  });

  for (const [label, setup, options, code, pattern] of [
    ['a profile refused at start-up: says the file, line and why', true, { profile: 'bad' }, 'profile-invalid', /Profile "bad" was refused when kvmops started: .*bad\.yaml:\d+: /],
    ['an unknown profile: names the file looked for and the known ones', true, { profile: 'nope' }, 'profile-not-found', /No profile "nope" \(.*nope\.yaml\); known: web/],
    ['no KVMOPS_PROFILES_DIR: says so', false, { profile: 'web' }, 'profile-not-found', /KVMOPS_PROFILES_DIR is not set/],
    ['a profile name that is no name', true, { profile: '../etc/passwd' }, 'invalid-input', /profile/],
  ] as const) {
    it(`${label}; no job`, async () => {
      if (setup) w.services.profiles = profilesPort(await readProfiles(dir));
      const r = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web-10', ...options });
      assert.equal(r.code, code, text(r));
      assert.equal(r.visibility, 'ephemeral');
      assert.match(text(r), pattern);
      assert.equal(w.jobCount(), 0);
    });
  }

  it('autocomplete offers the usable profiles only', async () => {
    w.services.profiles = profilesPort(await readProfiles(dir));
    const ask = (value: string) => w.router.complete({ command: 'deploy', subcommand: null, options: {}, user: USERS.alice, place: PLACE, focused: 'profile', value });
    assert.deepEqual(await ask(''), [{ name: 'web', value: 'web' }]);
    assert.deepEqual(await ask('x'), []);
    delete w.services.profiles;
    assert.deepEqual(await ask(''), []);
  });

  it('the payload takes a profile only with its settings, and not a huge one', () => {
    const base = { host: 'local', template: 'base', name: 'web', mode: 'thin', count: 1, start: false };
    assert.equal(deployPayload.safeParse({ ...base, profile: 'web' }).success, false);
    assert.equal(deployPayload.safeParse({ ...base, profileUserData: {} }).success, false);
    assert.equal(deployPayload.safeParse({ ...base, profile: 'web', profileUserData: { a: 'x'.repeat(70_000) } }).success, false);
    assert.equal(deployPayload.safeParse({ ...base, profile: 'web', profileUserData: { a: 1 } }).success, true);
  });
});
