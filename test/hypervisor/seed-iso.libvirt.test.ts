/**
 * The cloud-init NoCloud seed as a real ISO (xorriso, installed with the guest tooling by
 * `scripts/host-setup.sh --guest`): labelled `cidata`, holding exactly the documents
 * seed.test.ts pins. Under CI=true it never skips.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { seedDocuments, writeSeedIso } from '../../src/hypervisor/seed.js';

const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0b2ZhY2Vvbm9mdGhlc2VrZXlzaXNmaW5lZm9ydGVzdHM alice@laptop';

const hasXorriso = spawnSync('sh', ['-c', 'command -v xorriso']).status === 0;

describe('seed ISO (real xorriso)', { skip: hasXorriso || process.env.CI === 'true' ? false : 'xorriso is not installed: scripts/host-setup.sh --guest' }, () => {
  it('is labelled cidata and holds meta-data and user-data', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvmops-seed-test-'));
    try {
      const iso = path.join(dir, 'seed.iso');
      const spec = { instanceId: 'c0ffee00-1111-4222-8333-444455556666', vmName: 'web-01', sshKeys: [KEY_A] };
      await writeSeedIso(iso, spec);
      const pvd = spawnSync('xorriso', ['-indev', iso, '-pvd_info'], { encoding: 'utf8' });
      assert.match(pvd.stdout + pvd.stderr, /Volume Id\s*:\s*cidata\b/);
      const out = path.join(dir, 'out');
      const x = spawnSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out], { encoding: 'utf8' });
      assert.equal(x.status, 0, x.stderr);
      const docs = seedDocuments(spec);
      assert.equal(readFileSync(path.join(out, 'meta-data'), 'utf8'), docs.metaData);
      assert.equal(readFileSync(path.join(out, 'user-data'), 'utf8'), docs.userData);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
