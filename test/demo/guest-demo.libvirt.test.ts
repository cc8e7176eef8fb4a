/**
 * `npm run demo -- --guest`, run whole as a user runs it (`tsx src/demo/main.ts --guest`): the
 * guest image, lab host `kvdemo` with a guest network, /key add, a sealed template, /deploy
 * count:2 start:true with a profile, addresses from the completion, an SSH login with the
 * added key. The demo checks every step itself and exits non-zero on any mismatch; this asserts
 * its exit, its closing line, and that it left no lab behind. Minutes: measured in the report.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { guestImageOrSkip } from '../helpers/guest.js';
import { guestfsSkipReason } from '../helpers/lab-guest.js';
import { labSkipReason } from '../helpers/lab.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('npm run demo -- --guest', { skip: labSkipReason() || guestfsSkipReason() }, () => {
  it('runs to its end: every job succeeded, every check held, the lab removed', { timeout: 60 * 60_000 }, async (t) => {
    const image = guestImageOrSkip();
    if ('skip' in image) return t.skip(image.skip);
    const t0 = Date.now();
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/main.ts', '--guest'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, output }));
    });
    t.diagnostic(`the guest demo took ${Math.round((Date.now() - t0) / 1000)} s`);
    const timings = output.slice(output.indexOf('Timings:'));
    for (const line of timings.split('\n').slice(0, 12)) t.diagnostic(line);
    assert.equal(code, 0, output.slice(-4000));
    assert.match(output, /Guest demo finished: every job succeeded and every check held\./);
    assert.match(output, /✔ ssh debian@198\.19\.\d+\.\d+ says its own hostname kvmops-demo-web-01, and the profile ran/);
    assert.doesNotMatch(output, /✖/);
    assert.match(output, /lab kvdemo removed/);
    assert.equal(existsSync('/var/lib/kvmops-lab/kvdemo'), false, 'no lab left behind');
  });
});
