/**
 * `/vm list` pages and `/vm info` from the inventory, through the real discord.js Client against
 * the Discord API emulator, the real adapter and core, on the local libvirt:
 *
 * - 120 domains defined by hand (behind kvmops' back): `/vm list filter:<prefix>*` says "showing
 *   1–50 of 120" with Previous (disabled) / Next; Next (a type-3 click, acknowledged as a deferred
 *   update and shown in place) gives 51–100, then 101–120 with Next disabled; Previous goes back.
 *   The emulator refuses components Discord would (custom ids over 100 characters, duplicates);
 * - a substring filter and a filter that matches nothing;
 * - `/vm info` of a VM made by hand with a backing chain and an internal snapshot taken by hand:
 *   its disk, the chain and the snapshot, read from the inventory.
 *
 * Run: node --import tsx --test test/adapters/discord/pages.libvirt.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MessageRecord } from '../../discord-emulator/index.js';
import { createDisk, defineMany, defineVm, skipUnlessLibvirt, virsh } from '../../helpers/libvirt.js';
import { assertEphemeral, run } from './helpers.js';
import { DiscordWorld, USER, embedOf } from './world.js';

const skip = skipUnlessLibvirt();

interface Button {
  custom_id: string;
  label: string;
  disabled?: boolean;
}
const buttonsOf = (m: MessageRecord | null): Button[] => (m?.components ?? []).flatMap((row) => (row as { components: Button[] }).components);

describe('Discord: /vm list pages, /vm info from the inventory', skip, () => {
  let w: DiscordWorld;
  let names: string[];

  before(async () => {
    w = new DiscordWorld('pg');
    names = defineMany(Array.from({ length: 120 }, (_, i) => w.lab.vmName(`n${String(i).padStart(3, '0')}`)));
    await w.start();
    await w.bot.core.reconciler.refresh('local');
  });
  after(async () => {
    await w?.close();
  });

  /** Clicks `label` on the message as bob (a viewer) and waits for the page to change in place. */
  async function turn(message: MessageRecord, label: string): Promise<MessageRecord> {
    const button = buttonsOf(message).find((b) => b.label === label)!;
    const edits = w.emulator.message(message.id)!.edits.length;
    const handle = w.emulator.clickButton({ user: USER.bob, messageId: message.id, customId: button.custom_id });
    const ack = await handle.response();
    assert.equal(ack.late, false);
    assert.equal(ack.type, 6, 'a deferred update: the page is edited in place');
    return w.emulator.waitFor(() => {
      const m = w.emulator.message(message.id);
      return m && m.edits.length > edits ? m : undefined;
    }, 10_000, `the page after ${label}`);
  }

  const rows = (m: MessageRecord) => names.filter((n) => (embedOf(m)?.description ?? '').includes(n));
  const state = (m: MessageRecord) => buttonsOf(m).map((b) => `${b.label}${b.disabled ? ' (disabled)' : ''}`);

  it('120 VMs: pages of 50 with Previous / Next, "showing a–b of 120", in name order', async () => {
    const a = await run(w, USER.bob, 'vm', 'list', { filter: `${w.lab.prefix}*` });
    assertEphemeral(a);
    assert.equal(a.ack.type, 4, 'a database read: answered at once, not deferred');
    assert.equal(a.embed?.title, `VMs on local matching "${w.lab.prefix}\\*"`, 'the * shown as itself (escaped markdown)');
    assert.match(a.embed?.description ?? '', /showing 1–50 of 120/);
    assert.deepEqual(rows(a.message), names.slice(0, 50));
    assert.deepEqual(state(a.message), ['Previous (disabled)', 'Next']);
    for (const b of buttonsOf(a.message)) assert.ok(b.custom_id.length <= 100);

    let page = await turn(a.message, 'Next');
    assert.match(embedOf(page)?.description ?? '', /showing 51–100 of 120/);
    assert.deepEqual(rows(page), names.slice(50, 100));
    assert.deepEqual(state(page), ['Previous', 'Next']);
    page = await turn(page, 'Next');
    assert.match(embedOf(page)?.description ?? '', /showing 101–120 of 120/);
    assert.deepEqual(rows(page), names.slice(100));
    assert.deepEqual(state(page), ['Previous', 'Next (disabled)']);
    page = await turn(page, 'Previous');
    assert.match(embedOf(page)?.description ?? '', /showing 51–100 of 120/);

    // each click is the clicker's own read, audited as such
    const reads = w.store.audit.list(1000).filter((e) => e.command === 'vm list' && e.userId === USER.bob);
    assert.equal(reads.length, 4);
    assert.ok(reads.every((e) => e.outcome === 'read'));
  });

  it('a substring filter, one page (no buttons); a filter that matches nothing says so', async () => {
    const a = await run(w, USER.bob, 'vm', 'list', { filter: `${w.lab.prefix}N11`.toUpperCase() });
    assert.deepEqual(rows(a.message), names.slice(110, 120));
    assert.doesNotMatch(a.embed?.description ?? '', /showing/);
    assert.deepEqual(buttonsOf(a.message), []);
    const none = await run(w, USER.bob, 'vm', 'list', { filter: `${w.lab.prefix}zz*` });
    assert.match(none.embed?.description ?? '', /no VMs match/);
  });

  it('/vm info: a VM made by hand, its chain and a snapshot taken by hand, from the inventory', async () => {
    const base = createDisk(`${w.lab.outsideDir}/base.qcow2`, { sizeMiB: 16 });
    const top = createDisk(`${w.lab.outsideDir}/top.qcow2`, { backing: base });
    const vm = w.lab.vmName('info');
    defineVm(vm, [top]);
    virsh('snapshot-create-as', vm, '--name', 'by-hand');
    const a = await run(w, USER.bob, 'vm', 'info', { vm });
    assertEphemeral(a);
    const text = a.embed?.description ?? '';
    assert.match(text, /state: shut off/);
    assert.ok(text.includes(`disk vda: ${top} (qcow2) ← ${base}`), text);
    assert.match(text, /by-hand \(internal\)/);
  });
});
