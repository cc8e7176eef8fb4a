/**
 * `/vm list` pages in the terminal chat (`npm run shell`, driven through stdin/stdout) over the
 * real libvirt: 60 domains defined by hand, 50 a page, `more` for the next page and `back` for the
 * previous one, and what `more` says past the end or before any list.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { defineMany, makeTestEnv, skipUnlessLibvirt, type LibvirtTestEnv } from '../../helpers/libvirt.js';
import { ShellDriver } from './driver.js';

const opts = skipUnlessLibvirt();
let lab: LibvirtTestEnv;
let names: string[];

before(() => {
  if (opts.skip) return;
  lab = makeTestEnv('shpg');
  names = defineMany(Array.from({ length: 60 }, (_, i) => lab.vmName(`n${String(i).padStart(2, '0')}`)));
});
after(() => lab?.cleanup());

test('/vm list filter: 50 a page, more and back', opts, async () => {
  const sh = new ShellDriver(['--as', 'dave', '--roles', 'viewer'], {
    KVMOPS_DB: `${lab.outsideDir}/kvmops.db`,
    KVMOPS_STORAGE_DIR: lab.storageDir,
    KVMOPS_HOSTS: 'local=qemu:///system',
    KVMOPS_LOG_LEVEL: 'warn',
  });
  try {
    await sh.expect(/Type help\./);
    await sh.say('more', /no list to page: run a list first/);
    // the first import runs in the background: ask until it has read the host
    const filter = `${lab.prefix}*`;
    for (let i = 0; ; i++) {
      const from = sh.output.length;
      sh.type(`/vm list filter:${filter}`);
      const m = await sh.expect(/showing [\d,]+–[\d,]+ of [\d,]+|\(no VMs match/, { from });
      if (m[0] === 'showing 1–50 of 60') break;
      assert.ok(i < 50, `never saw the 60 VMs: ${m[0]}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await sh.expect(/\(more: the next page\)/);
    let from = sh.output.length;
    await sh.say('more', /showing 51–60 of 60/);
    let page = sh.output.slice(from);
    assert.deepEqual(names.filter((n) => page.includes(n)), names.slice(50));
    await sh.expect(/\(back: the previous one\)/, { from });
    await sh.say('more', /that was the last page \(60 in all\)/);
    from = sh.output.length;
    await sh.say('back', /showing 1–50 of 60/);
    page = sh.output.slice(from);
    assert.deepEqual(names.filter((n) => page.includes(n)), names.slice(0, 50));
    await sh.say('back', /that was the first page/);
  } finally {
    assert.equal(await sh.quit(), 0);
  }
});
