/**
 * The terminal chat driven as a user would, over real libvirt and a real SQLite database:
 * a deploy, a revert that only runs after a second user's approval, refusals.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { openJobStore } from '../../../src/jobs/store.js';
import { diskOf, hasPattern, skipUnlessLibvirt, virsh, writePattern, type LibvirtTestEnv } from '../../helpers/libvirt.js';
import { goldenShellLab, PtyShell, ShellDriver } from './driver.js';

const opts = skipUnlessLibvirt();
let lab: LibvirtTestEnv;
let db: string;
let env: Record<string, string>;

before(() => {
  if (opts.skip) return;
  ({ lab, db, env } = goldenShellLab('shell'));
});
after(() => lab?.cleanup());

test('deploy, then a revert approved by a second user, through the terminal chat', opts, async () => {
  const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator,admin'], env);
  try {
    await sh.expect(/Type help\./);
    const golden = lab.vmName('golden');
    const base = lab.vmName('base');
    const web = lab.vmName('web');

    await sh.say(`/template create vm:${golden} name:${base} seal:false`, /@alice: job #\d+ succeeded/);
    await sh.say(`/deploy template:${base} name:${web} count:2 mode:thin`, /@alice: job #\d+ succeeded/);
    assert.match(virsh('list', '--all', '--name'), new RegExp(`${web}-01\\n${web}-02`));

    await sh.say(`/snapshot create vm:${web}-01 name:s1 kind:internal`, /@alice: job #\d+ succeeded/);
    const disk = diskOf(`${web}-01`); // named for the VM's uuid (src/hypervisor/storage.ts)
    assert.ok(hasPattern(disk, 0x5a), 'the thin VM reads the template data');
    writePattern(disk, 0x11);

    const [, requestId, jobId] = await sh.say(`/snapshot revert vm:${web}-01 name:s1`, /react (m\d+) ✅ to run it/).then(async (m) => {
      const j = await sh.expect(/Approval needed for job #(\d+)/);
      return [m[0], m[1]!, j[1]!];
    });
    await sh.say(`react ${requestId} ✅`, /ignored: your own reaction does not count/);
    await sh.say('as carol viewer', /you are carol/);
    await sh.say(`react ${requestId} ✅`, /ignored: only members with the approver role/);
    let store = openJobStore(db);
    assert.equal(store.get(Number(jobId))?.state, 'awaiting_approval', 'no one has approved yet');
    store.close();

    await sh.say('as bob approver', /you are bob/);
    await sh.say(`react ${requestId} ✅`, /counted: job #\d+ approved/);
    await sh.expect(new RegExp(`@alice: job #${jobId} succeeded`));
    assert.ok(hasPattern(disk, 0x5a), 'the revert brought the snapshot data back');

    await sh.say(`react ${requestId} ✅`, /already decided/);
    store = openJobStore(db);
    assert.equal(store.get(Number(jobId))?.state, 'succeeded');
    store.close();
    assert.equal(await sh.quit(), 0);
  } finally {
    sh.child.kill();
  }
});

test('refusals are answered and create no job', opts, async () => {
  const sh = new ShellDriver(['--as', 'dave', '--roles', 'viewer'], env);
  try {
    await sh.expect(/Type help\./);
    const before = openJobStore(db);
    const count = before.list({ limit: 1000 }).length;
    before.close();
    const filesBefore = readdirSync(lab.storage.vmsDir).sort();
    await sh.say('/vm start vm:anything', /Refused \(forbidden\)[\s\S]*needs the operator role/);
    await sh.say('as erin operator', /you are erin/);
    await sh.say('/deploy template:x name:"a;rm -rf /"', /Refused \(invalid-input\)/);
    await sh.say('/deploy template:x name:../etc', /Refused \(invalid-input\)/);
    await sh.say('/deploy template:nope name:web count:21', /Refused \(invalid-input\)[\s\S]*count/);
    await sh.say(`/deploy template:nope-${Date.now()} name:web`, /Refused \(template-not-found\)/);
    await sh.say('/snapshot revert vm:ghost name:s1', /Refused \(vm-not-found\)/);
    await sh.say('frobnicate', /unknown input/);
    // /audit in the terminal: admins only; a user option takes @name.
    await sh.say('/audit', /Refused \(forbidden\)[\s\S]*needs the admin role/);
    await sh.say('as root admin', /you are root/);
    await sh.say('/audit user:@erin command:deploy since:1h', /Audit, last 1h, \/deploy[\s\S]*only erin[\s\S]*UTC · erin · \/deploy · refused: template-not-found/);
    const afterStore = openJobStore(db);
    assert.equal(afterStore.list({ limit: 1000 }).length, count, 'no job was created');
    const refused = afterStore.audit.list(50).filter((a) => a.outcome === 'refused');
    assert.ok(refused.length >= 6, 'every refusal is audited');
    afterStore.close();
    assert.deepEqual(readdirSync(lab.storage.vmsDir).sort(), filesBefore, 'no file was made');
    assert.equal(await sh.quit(), 0);
  } finally {
    sh.child.kill();
  }
});

test('text typed by users reaches the terminal with its control characters shown, never acted on', opts, async () => {
  const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator'], env);
  try {
    await sh.expect(/Type help\./);
    // Refused before a job exists, naming the character; the refusal itself holds no raw ESC.
    await sh.say(`/snapshot create vm:${lab.vmName('golden')} name:s9 description:"a\x1b[31mred"`, /Refused \(invalid-input\)[\s\S]*U\+001B \(ESC\) at character 2/);
    // A user name carrying a window-title and a clear-screen sequence.
    await sh.say('as mallory\x1b]0;pwned\x07\x1b[2J viewer', /you are mallory/);
    assert.match(sh.output, /you are mallory\\x1b\]0;pwned\\x07\\x1b\[2J \(viewer\)/);
    assert.doesNotMatch(sh.output, /[\x00-\x08\x0b-\x1f\x7f]/, `no control character but newline reached the terminal: ${JSON.stringify(sh.output)}`);
    const store = openJobStore(db);
    assert.equal(store.list({ limit: 1000 }).filter((j) => j.payload.name === 's9').length, 0, 'no job');
    store.close();
    assert.equal(await sh.quit(), 0);
  } finally {
    sh.child.kill();
  }
});

test('on a pseudo-terminal: tab completes commands and VM names, status updates redraw in place', opts, async () => {
  // `script` gives the shell a real pty, so readline runs in terminal mode with its completer.
  const golden = lab.vmName('golden');
  const partial = golden.slice(0, -3);
  const sh = new PtyShell(['--as', 'alice', '--roles', 'admin'], env);
  try {
    await sh.expect(/Type help\.[\s\S]*alice> /); // readline owns the pty (raw mode) once it prompts
    sh.keys('/vm inf\t');
    await sh.expect(/\/vm info /);
    sh.keys(`vm:${partial}\t`);
    await sh.expect(new RegExp(`vm:${golden}`));
    sh.keys('\r');
    await sh.expect(new RegExp(`VM ${golden} on local`));
    sh.keys(`/vm start vm:${golden}\r`);
    await sh.expect(/@alice: job #\d+ succeeded/);
    assert.match(sh.output, /\x1b\[\d+F\x1b\[J\[m\d+\] kvmops: /, 'the status message was redrawn in place');
    sh.keys(`/vm stop vm:${golden} force:true\r`);
    await sh.expect(/@alice: job #\d+ succeeded[\s\S]*@alice: job #\d+ succeeded/);
  } finally {
    sh.close();
  }
});
