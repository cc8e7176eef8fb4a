import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_PROFILE_BYTES, parseProfile, profilesPort, readProfiles } from '../../src/config/profiles.js';
import { isKvmopsError } from '../../src/domain/errors.js';

/** KVMOPS_PROFILES_DIR: each NAME.yaml parsed as YAML at start-up; a bad file reported by name and line, refused, never a crash. */

const problemsOf = (text: string, name = 'web') => {
  const r = parseProfile(name, `/p/${name}.yaml`, text);
  assert.ok('problems' in r, `refused: ${JSON.stringify(r)}`);
  return r.problems;
};

describe('parseProfile', () => {
  it('a #cloud-config mapping becomes its JSON-safe settings', () => {
    const r = parseProfile('web', '/p/web.yaml', '#cloud-config\npackages: [nginx]\nruncmd:\n  - [systemctl, enable, --now, nginx]\nwrite_files:\n  - path: /etc/motd\n    content: |\n      hello\n');
    assert.ok('profile' in r);
    assert.deepEqual(r.profile.userData, {
      packages: ['nginx'],
      runcmd: [['systemctl', 'enable', '--now', 'nginx']],
      write_files: [{ path: '/etc/motd', content: 'hello\n' }],
    });
    assert.deepEqual(r.warnings, []);
  });

  it('an empty cloud-config is an empty mapping', () => {
    const r = parseProfile('none', '/p/none.yaml', '#cloud-config\n');
    assert.ok('profile' in r);
    assert.deepEqual(r.profile.userData, {});
  });

  it('YAML 1.2 core schema: a date stays a string, yes/no stay strings', () => {
    const r = parseProfile('web', '/p/web.yaml', '#cloud-config\nwhen: 2024-01-01\nflag: yes\n');
    assert.ok('profile' in r);
    assert.deepEqual(r.profile.userData, { when: '2024-01-01', flag: 'yes' });
  });

  it('without the #cloud-config line: refused at line 1', () => {
    assert.match(problemsOf('packages: [nginx]\n')[0]!, /^\/p\/web\.yaml:1: a profile is a cloud-config and starts with the line "#cloud-config"/);
  });

  it('a YAML error is reported as FILE:LINE: reason', () => {
    const [p] = problemsOf('#cloud-config\npackages:\n  - nginx\nruncmd: [a, b\nx: 1\n');
    assert.match(p!, /^\/p\/web\.yaml:5: /);
    assert.doesNotMatch(p!, /\n/, 'one line');
  });

  it('a key given twice is an error, at its line', () => {
    assert.match(problemsOf('#cloud-config\na: 1\na: 2\n')[0]!, /^\/p\/web\.yaml:3: Map keys must be unique/);
  });

  it('a list or a single value is not a cloud-config', () => {
    assert.match(problemsOf('#cloud-config\n- 1\n- 2\n')[0]!, /^\/p\/web\.yaml:2: a cloud-config is a mapping \(key: value lines\), not a list/);
    assert.match(problemsOf('#cloud-config\njust text\n')[0]!, /not a single value/);
  });

  it('an alias bomb is refused, not expanded', () => {
    const lines = ['#cloud-config', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    const problems = problemsOf(`${lines.join('\n')}\n`);
    assert.match(problems[0]!, /^\/p\/web\.yaml: .*alias/i);
  });

  it('too large for a payload: refused with its size', () => {
    const big = `#cloud-config\nwrite_files:\n  - path: /big\n    content: ${'x'.repeat(MAX_PROFILE_BYTES)}\n`;
    assert.match(problemsOf(big)[0]!, /too large \(\d+ bytes as JSON, at most 65536\)/);
  });

  it('a file name that is no valid name is no profile', () => {
    assert.match(problemsOf('#cloud-config\n', '1234')[0]!, /"1234" cannot be a profile name/);
    assert.match(problemsOf('#cloud-config\n', 'has space')[0]!, /cannot be a profile name/);
  });

  it('an unknown tag is a warning; the value stays a string', () => {
    const r = parseProfile('web', '/p/web.yaml', '#cloud-config\nx: !custom 3\n');
    assert.ok('profile' in r);
    assert.deepEqual(r.profile.userData, { x: '3' });
    assert.match(r.warnings[0]!, /^\/p\/web\.yaml:2: Unresolved tag: !custom/);
  });
});

describe('readProfiles and the port', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kvmops-profiles-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every NAME.yaml: the good ones usable, a bad one refused by name with FILE:LINE, .yml said, others ignored', async () => {
    writeFileSync(path.join(dir, 'web.yaml'), '#cloud-config\npackages: [nginx]\n');
    writeFileSync(path.join(dir, 'db.yaml'), '#cloud-config\npackages: [postgresql]\n');
    writeFileSync(path.join(dir, 'broken.yaml'), '#cloud-config\nruncmd:\n  - [a\n');
    writeFileSync(path.join(dir, 'old.yml'), '#cloud-config\n');
    writeFileSync(path.join(dir, 'README'), 'profiles live here\n');
    mkdirSync(path.join(dir, 'unreadable.yaml'));
    const p = await readProfiles(dir);
    assert.deepEqual([...p.loaded.keys()], ['db', 'web']);
    assert.deepEqual([...p.refused.keys()].sort(), ['broken', 'unreadable']);
    assert.match(p.refused.get('broken')!, new RegExp(`^${path.join(dir, 'broken.yaml')}:\\d+: `));
    assert.match(p.refused.get('unreadable')!, /cannot be read \(EISDIR\)/);
    assert.ok(p.problems.some((x) => x.includes('old.yml: ignored: profiles are named NAME.yaml')));

    const port = profilesPort(p);
    assert.deepEqual(port.names(), ['db', 'web']);
    assert.deepEqual(port.userData('web'), { packages: ['nginx'] });
    // a copy: a caller changing it changes no later deploy
    (port.userData('web').packages as string[]).push('evil');
    assert.deepEqual(port.userData('web'), { packages: ['nginx'] });

    assert.throws(() => port.userData('broken'), (e) => isKvmopsError(e, 'profile-invalid') && /broken\.yaml:\d+: .*Fix the file and restart kvmops/.test(e.message));
    assert.throws(() => port.userData('nope'), (e) => isKvmopsError(e, 'profile-not-found') && /No profile "nope" .*known: db, web/.test(e.message));
  });

  it('a folder that cannot be read gives no profiles and says so; none configured says so too', async () => {
    const p = await readProfiles(path.join(dir, 'missing'));
    assert.equal(p.loaded.size, 0);
    assert.match(p.problems[0]!, /missing: cannot be read \(ENOENT\); no profiles/);
    const none = profilesPort(await readProfiles(undefined));
    assert.deepEqual(none.names(), []);
    assert.throws(() => none.userData('web'), (e) => isKvmopsError(e, 'profile-not-found') && /KVMOPS_PROFILES_DIR is not set/.test(e.message));
  });

  it('a file it cannot read is refused, not a crash', async () => {
    // a folder named like a profile: unreadable as a file for anyone, root included (EISDIR)
    const d = mkdtempSync(path.join(dir, 'unreadable-'));
    mkdirSync(path.join(d, 'secret.yaml'));
    const p = await readProfiles(d);
    assert.match(p.refused.get('secret') ?? '', /EISDIR|illegal operation on a directory/);
  });
});
