import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createCore } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import { parseTeamKeys, readTeamKeys } from '../../src/config/team-keys.js';
import { parseSshPublicKey } from '../../src/domain/ssh-keys.js';
import { newEd25519Line } from '../helpers/ssh-keys.js';

/** KVMOPS_SSH_KEYS_FILE: read at start-up; a bad line is reported by file:line and left out, never a crash. */

describe('team keys file', () => {
  it('keeps the good keys in canonical form and reports each bad line as FILE:LINE', () => {
    const a = newEd25519Line('ops@a');
    const b = newEd25519Line('ops@b');
    const text = [
      '# the ops team',
      '',
      `  ${a.replace(' ', '   ')}  `,
      'ssh-dss AAAAB3NzaC1kc3M= old',
      `restrict ${b}`,
      b,
      `${a.split(' ').slice(0, 2).join(' ')} again`,
      'garbage',
    ].join('\n');
    const r = parseTeamKeys('/etc/kvmops/keys', text);
    assert.deepEqual(r.keys, [parseSshPublicKey(a).line, parseSshPublicKey(b).line]);
    assert.equal(r.problems.length, 4, r.problems.join('\n'));
    assert.match(r.problems[0]!, /^\/etc\/kvmops\/keys:4: not an accepted SSH public key: type ssh-dss/);
    assert.match(r.problems[1]!, /^\/etc\/kvmops\/keys:5: .*should start with the key type .*not "restrict"/);
    assert.match(r.problems[2]!, /^\/etc\/kvmops\/keys:7: the same key again/);
    assert.match(r.problems[3]!, /^\/etc\/kvmops\/keys:8: /);
  });

  it('reads the file with fs/promises; unset: none; unreadable: reported, no keys', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmops-team-keys-'));
    try {
      const file = path.join(dir, 'keys');
      const a = newEd25519Line('ops');
      writeFileSync(file, `${a}\n`);
      assert.deepEqual(await readTeamKeys(file), { keys: [parseSshPublicKey(a).line], problems: [] });
      assert.deepEqual(await readTeamKeys(undefined), { keys: [], problems: [] });
      const missing = await readTeamKeys(path.join(dir, 'nope'));
      assert.deepEqual(missing.keys, []);
      assert.match(missing.problems[0]!, /nope: cannot be read \(ENOENT\); no team keys/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('createCore refuses a set KVMOPS_SSH_KEYS_FILE that was not read first, and logs the problems of one that was', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmops-team-keys-'));
    try {
      const file = path.join(dir, 'keys');
      writeFileSync(file, 'not a key\n');
      const env = loadEnv({ KVMOPS_DB: path.join(dir, 'kvmops.db'), KVMOPS_SSH_KEYS_FILE: file, KVMOPS_LOG_LEVEL: 'silent' });
      assert.equal(env.KVMOPS_SSH_KEYS_FILE, file);
      assert.throws(() => createCore(env, { guildId: null }), /read it \(readTeamKeys\) before createCore/);
      const warned: string[] = [];
      const logger = { warn: (_o: object, msg: string) => void warned.push(msg), info() {}, error() {}, debug() {}, child() { return logger; } };
      const core = createCore(env, { guildId: null, teamKeys: await readTeamKeys(file), logger: logger as never });
      core.store.close();
      assert.equal(warned.length, 1, warned.join('\n'));
      assert.ok(warned[0]!.startsWith(`KVMOPS_SSH_KEYS_FILE: ${file}:1: not an accepted SSH public key`), warned[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
