/**
 * Text that reaches Discord is safe and valid, end to end: the real discord.js Client against the
 * Discord API emulator (which refuses what Discord refuses), the real adapter, store, worker and
 * notifier, and the real hypervisor layer on the local libvirt.
 *
 * - a description with control characters is refused before a job exists;
 * - a description full of markup is shown as typed: no link, no mention, no header;
 * - the requester is shown as a mention that pings nobody, never as the display name;
 * - an approval request is posted once even when Discord writes it but the answer is lost (5xx)
 *   and discord.js retries the POST;
 * - autocomplete leaves out names Discord would refuse (over 100 characters) instead of losing
 *   the whole answer.
 *
 * Run: node --import tsx --test test/discord/text.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nonceFor } from '../../../src/adapters/discord/render.js';
import { createDisk, defineVm, skipUnlessLibvirt, virsh } from '../../helpers/libvirt.js';
import { assertEphemeral, run } from './helpers.js';
import { DiscordWorld, ROLE, USER, embedOf } from './world.js';

const skip = skipUnlessLibvirt();

/** An operator whose display name is markup and an impersonation. */
const MALLORY = '200000000000000009';
const MALLORY_NICK = 'root [admin](https://evil.example) @everyone';

/** The characters of escaped text that Discord would read as markup (not after a backslash). */
function bare(s: string): string {
  return s.replace(/\\[^0-9A-Za-z\s]/g, '');
}

describe('Discord: text from users is shown safely', skip, () => {
  let w: DiscordWorld;
  let vm: string;

  before(async () => {
    w = new DiscordWorld('dt');
    vm = w.lab.vmName('vm');
    defineVm(vm, [createDisk(`${w.lab.outsideDir}/vm.qcow2`)]);
    await w.start();
    w.emulator.addMember({ id: MALLORY, username: 'mallory', nick: MALLORY_NICK, roles: [ROLE.operator] });
  });
  after(async () => {
    await w?.close();
  });

  it('a description with control characters is refused, naming the character, before a job exists', async () => {
    const jobs = w.jobs().length;
    const a = await run(w, MALLORY, 'snapshot', 'create', { vm, name: 'evil', description: 'clear\x1b[2J\x1b]0;pwned\x07' });
    assertEphemeral(a);
    assert.match(a.text, /Refused \\?\(invalid\\?-input\\?\)/);
    assert.match(a.text, /U\+001B \(ESC\) at character 6/);
    assert.equal(w.jobs().length, jobs, 'no job row');
    assert.doesNotMatch(virsh('snapshot-list', '--name', vm), /evil/);
  });

  it('a description full of markup is shown as typed: no masked link, no URL, no mention, no header', async () => {
    const description = '[docs](https://evil.example) @everyone <@200000000000000002> ||x|| **b**';
    const a = await run(w, MALLORY, 'snapshot', 'create', { vm, name: 's1', description });
    assert.ok(a.jobId, a.text);
    assert.equal((await w.finished(a.jobId)).state, 'succeeded');
    const list = await run(w, USER.bob, 'snapshot', 'list', { vm });
    const shown = embedOf(list.message)?.description ?? '';
    assert.ok(shown.replace(/\\([^0-9A-Za-z\s])/g, '$1').includes(description), `shown as typed: ${shown}`);
    assert.doesNotMatch(bare(shown), /[[\]<>@*|]|:\/\//, `no markup can form: ${shown}`);
    assert.deepEqual(list.message.pings, { users: [], roles: [], everyone: false });
    assert.deepEqual(list.message.allowedMentions, { parse: [] }, 'the reply says so explicitly');
  });

  it('an approval request: once, although Discord wrote it and answered 500 (discord.js retried the POST)', async () => {
    // Only the request is posted while the notifier waits (its status message would race it).
    await w.bot.app.notifier.stop();
    const before = w.emulator.messages().length;
    const posts = w.emulator.requests('POST /channels/:channel/messages').length;
    w.emulator.failNext('POST /channels/:channel/messages', { status: 500, afterWrite: true });
    try {
      const a = await run(w, MALLORY, 'snapshot', 'revert', { vm, name: 's1' });
      assert.match(a.text, /waiting for approval/);
      const jobId = a.jobId!;
      assert.equal(w.emulator.pendingFailures, 0, 'the fault was used');
      assert.deepEqual(w.emulator.requests('POST /channels/:channel/messages').slice(posts).map((r) => r.status), [500, 200], 'written, lost, retried');
      const requests = w.emulator.messages().slice(before).filter((m) => /^Approval needed for job #\d+/.test(embedOf(m)?.title ?? ''));
      assert.equal(requests.length, 1, 'one approval request');
      const request = requests[0]!;
      assert.equal(w.store.approvals.get(jobId)?.messageId, request.id, 'the approval is attached to it');
      assert.equal(request.nonce, nonceFor('approval', w.store.get(jobId)!.requestId), 'keyed by the request id, not the job number');
      await w.emulator.waitFor(() => w.emulator.message(request.id)?.reactions.length === 2, 5_000, '✅ and ❌ on the request');

      // The requester as a mention that renders the member, never the display name; nobody but
      // the approver role pinged (KVMOPS_NOTIFY_APPROVERS, default on).
      const text = embedOf(request)?.description ?? '';
      assert.match(text, new RegExp(`^Requested by <@${MALLORY}>\\.$`, 'm'));
      assert.match(text, new RegExp(`other than <@${MALLORY}>`));
      assert.doesNotMatch(text, /root|admin|evil|everyone/, `no display name: ${text}`);
      assert.deepEqual(request.allowedMentions, { parse: [], roles: [ROLE.approver] });
      assert.deepEqual(request.pings, { users: [], roles: [ROLE.approver], everyone: false });
    } finally {
      w.bot.app.notifier.start();
    }
  });

  it('autocomplete leaves out a name over 100 characters rather than have Discord refuse the whole answer', async () => {
    const long = w.lab.vmName(`long-${'x'.repeat(110)}`); // libvirt allows it; kvmops cannot act on it
    defineVm(long, [createDisk(`${w.lab.outsideDir}/long.qcow2`)]);
    assert.ok(virsh('list', '--all', '--name').includes(long));
    w.bot.core.services.catalog.invalidate(); // the names list is cached for 15 s: read the host again
    const choices = await w.emulator.sendAutocomplete({ user: USER.alice, name: 'vm', subcommand: 'start', options: { vm: w.lab.prefix }, focused: 'vm' });
    assert.deepEqual(choices.map((c) => c.value), [vm]);
    assert.deepEqual(w.emulator.unknownRoutes(), []);
  });
});
