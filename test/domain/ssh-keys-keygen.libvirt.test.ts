/**
 * A fresh key made by the real ssh-keygen (installed with the guest tooling by
 * `scripts/host-setup.sh --guest`) parses to the fingerprint and size ssh-keygen prints. Under
 * CI=true it never skips.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseSshPublicKey } from '../../src/domain/ssh-keys.js';

describe('ssh keys against the real ssh-keygen', () => {
  const hasKeygen = spawnSync('sh', ['-c', 'command -v ssh-keygen']).status === 0;
  it('a fresh key from ssh-keygen: same fingerprint', { skip: hasKeygen || process.env.CI === 'true' ? false : 'ssh-keygen is not installed: scripts/host-setup.sh --guest' }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmops-keytest-'));
    try {
      for (const [t, b] of [['ed25519', '256'], ['ecdsa', '384'], ['rsa', '3072']] as const) {
        const f = path.join(dir, t);
        assert.equal(spawnSync('ssh-keygen', ['-q', '-t', t, '-b', b, '-N', '', '-C', `fresh ${t}`, '-f', f]).status, 0);
        const printed = spawnSync('ssh-keygen', ['-lf', `${f}.pub`], { encoding: 'utf8' }).stdout.split(' ');
        const k = parseSshPublicKey(readFileSync(`${f}.pub`, 'utf8'));
        assert.equal(k.fingerprint, printed[1]);
        assert.equal(k.bits, Number(printed[0]));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
