/**
 * The Discord bot end to end, the command side: what is registered, refusals (bad input,
 * unknown names, missing role) answered ephemerally with no job and no file, reads, and
 * autocomplete from the real host — the real discord.js Client against the Discord API emulator,
 * over the real store and the real hypervisor layer on the local libvirt.
 *
 * Run: node --import tsx --test test/discord/commands.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Routes } from 'discord.js';
import { registerCommands } from '../../../src/adapters/discord/registration.js';
import type { OptionValue } from '../../discord-emulator/index.js';
import { createDisk, defineVm, skipUnlessLibvirt } from '../../helpers/libvirt.js';
import { assertEphemeral, run } from './helpers.js';
import { DiscordWorld, USER } from './world.js';

const skip = skipUnlessLibvirt();

describe('Discord: registration, refusals, reads and autocomplete', skip, () => {
  let w: DiscordWorld;
  let src: string;
  let tpl: string;

  before(async () => {
    w = new DiscordWorld('dc');
    src = w.lab.vmName('src');
    tpl = w.lab.vmName('tpl');
    defineVm(src, [createDisk(`${w.lab.outsideDir}/src.qcow2`)]);
    await w.start();
    const t = await run(w, USER.root, 'template', 'create', { vm: src, name: tpl, seal: false });
    assert.equal((await w.finished(t.jobId!)).state, 'succeeded');
    const s = await run(w, USER.alice, 'snapshot', 'create', { vm: src, name: 'snap-a' });
    assert.equal((await w.finished(s.jobId!)).state, 'succeeded');
    // Their notifications are out before the refusals below look for public messages.
    await w.emulator.waitFor(() => w.endMessages(t.jobId!).length && w.endMessages(s.jobId!).length, 10_000, 'setup notifications');
  });
  after(async () => {
    await w?.close();
  });

  it('registers the contract commands on the guild at start-up, in one bulk overwrite', () => {
    assert.equal(w.emulator.commandOverwriteCount, 1);
    const registered = w.emulator.registeredCommands()!;
    assert.deepEqual(registered.map((c) => c.name).sort(), ['audit', 'deploy', 'host', 'job', 'key', 'schedule', 'snapshot', 'template', 'vm']);
    assert.deepEqual(w.bot.discord.registered.map((c) => c.id).sort(), registered.map((c) => c.id).sort());
    const deploy = registered.find((c) => c.name === 'deploy')!;
    const byName = Object.fromEntries((deploy.options ?? []).map((o) => [o.name, o as unknown as Record<string, unknown>]));
    assert.deepEqual(
      Object.fromEntries(Object.entries(byName).map(([n, o]) => [n, [o.type, o.required ?? false, o.autocomplete ?? false, o.min_value, o.max_value, o.max_length]])),
      {
        template: [3, true, true, undefined, undefined, 63],
        name: [3, true, false, undefined, undefined, 63],
        mode: [3, false, false, undefined, undefined, undefined],
        count: [4, false, false, 1, 20, undefined],
        start: [5, false, false, undefined, undefined, undefined],
        host: [3, false, true, undefined, undefined, 63],
        profile: [3, false, true, undefined, undefined, 63],
      },
    );
    const snapshot = registered.find((c) => c.name === 'snapshot')!;
    const revert = (snapshot.options ?? []).find((o) => o.name === 'revert') as unknown as { type: number; options: Array<{ name: string; autocomplete?: boolean }> };
    assert.equal(revert.type, 1);
    assert.deepEqual(revert.options.map((o) => [o.name, o.autocomplete ?? false]), [['vm', true], ['name', true], ['host', true]]);
    assert.deepEqual(w.emulator.unknownRoutes(), []);
  });

  /** The command is refused ephemerally with `code`; no job, no file. */
  async function refused(user: string, name: string, sub: string | undefined, options: Record<string, OptionValue>, code: string): Promise<void> {
    const jobs = w.jobs().length;
    const tree = w.storageTree();
    const a = await run(w, user, name, sub, options);
    assertEphemeral(a);
    assert.match(a.text, new RegExp(`Refused \\(${code}\\)`), `/${name} ${sub ?? ''} ${JSON.stringify(options)} → ${a.text}`);
    assert.equal(w.jobs().length, jobs, 'no job');
    assert.deepEqual(w.storageTree(), tree, 'no file in the storage dir');
    assert.deepEqual(w.emulator.messages().filter((m) => m.createdAt >= a.ack.receivedAt - 1), [], 'nothing public');
  }

  it('refuses shell metacharacters, ../ and unknown names ephemerally, with no job and no file', async () => {
    await refused(USER.alice, 'deploy', undefined, { template: tpl, name: 'a;rm -rf /' }, 'invalid-input');
    await refused(USER.alice, 'deploy', undefined, { template: '../x', name: 'ok' }, 'invalid-input');
    await refused(USER.alice, 'deploy', undefined, { template: tpl, name: '$(reboot)' }, 'invalid-input');
    await refused(USER.alice, 'snapshot', 'create', { vm: '../x', name: 's' }, 'invalid-input');
    await refused(USER.alice, 'snapshot', 'create', { vm: src, name: '`id`' }, 'invalid-input');
    await refused(USER.alice, 'vm', 'start', { vm: w.lab.vmName('nope') }, 'vm-not-found');
    await refused(USER.alice, 'deploy', undefined, { template: w.lab.vmName('nope'), name: w.lab.vmName('x') }, 'template-not-found');
    await refused(USER.alice, 'snapshot', 'revert', { vm: src, name: 'nope' }, 'snapshot-not-found');
    await refused(USER.alice, 'vm', 'list', { host: 'mars' }, 'host-not-found');
    await refused(USER.alice, 'deploy', undefined, { template: tpl, name: src }, 'name-taken');
  });

  it('refuses VM names kvmops would hide (libguestfs appliance shape), saying why, with no job and no file', async () => {
    const cases: Array<Record<string, OptionValue>> = [{ template: tpl, name: 'guestfs-abc1' }, { template: tpl, name: 'guestfs', count: 2 }];
    for (const options of cases) {
      await refused(USER.alice, 'deploy', undefined, options, 'invalid-input');
      const a = await run(w, USER.alice, 'deploy', undefined, options);
      assert.match(a.text, /libguestfs appliance/);
      assert.match(a.text, /hides such domains from every list and command/);
    }
  });

  it('refuses a missing role ephemerally (fail closed), with no job', async () => {
    await refused(USER.carol, 'deploy', undefined, { template: tpl, name: w.lab.vmName('c') }, 'forbidden');
    await refused(USER.carol, 'vm', 'list', {}, 'forbidden');
    await refused(USER.alice, 'template', 'create', { vm: src, name: w.lab.vmName('t2') }, 'forbidden');
    await refused(USER.bob, 'snapshot', 'create', { vm: src, name: 'by-bob' }, 'forbidden');
  });

  it('out-of-range count and 64-character names: a Discord client cannot send them; the bot refuses them anyway', async () => {
    const long = `a${'b'.repeat(63)}`;
    // What the registered bounds make Discord refuse before anything reaches the bot.
    assert.throws(() => w.emulator.sendSlashCommand({ user: USER.alice, name: 'deploy', options: { template: tpl, name: 'x', count: 0 } }), /min_value/);
    assert.throws(() => w.emulator.sendSlashCommand({ user: USER.alice, name: 'deploy', options: { template: tpl, name: 'x', count: 21 } }), /max_value/);
    assert.throws(() => w.emulator.sendSlashCommand({ user: USER.alice, name: 'deploy', options: { template: tpl, name: long } }), /max_length/);
    // A client that ignores them (the same commands registered without bounds): the bot's own checks.
    const rest = w.bot.discord.client.rest;
    const relaxed = JSON.parse(JSON.stringify(w.emulator.registeredCommands()), (k: string, v: unknown) =>
      ['min_value', 'max_value', 'min_length', 'max_length', 'id', 'version', 'application_id', 'guild_id'].includes(k) ? undefined : v,
    ) as unknown[];
    await rest.put(Routes.applicationGuildCommands(w.emulator.applicationId, w.emulator.guildId), { body: relaxed });
    try {
      await refused(USER.alice, 'deploy', undefined, { template: tpl, name: w.lab.vmName('z'), count: 0 }, 'invalid-input');
      await refused(USER.alice, 'deploy', undefined, { template: tpl, name: w.lab.vmName('z'), count: 21 }, 'invalid-input');
      await refused(USER.alice, 'deploy', undefined, { template: tpl, name: long }, 'invalid-input');
      await refused(USER.alice, 'snapshot', 'create', { vm: src, name: long }, 'invalid-input');
      await refused(USER.alice, 'vm', 'info', { vm: long }, 'invalid-input');
    } finally {
      await registerCommands(rest, w.emulator.applicationId, w.emulator.guildId, w.bot.core.router.definitions());
    }
  });

  it('reads answer ephemerally: /vm list, /template list, /snapshot list, /job list, /job status', async () => {
    const vms = await run(w, USER.bob, 'vm', 'list');
    assertEphemeral(vms);
    assert.ok(vms.text.includes(src), vms.text);
    const templates = await run(w, USER.bob, 'template', 'list');
    assertEphemeral(templates);
    assert.ok(templates.text.includes(tpl), templates.text);
    const snaps = await run(w, USER.bob, 'snapshot', 'list', { vm: src });
    assert.ok(snaps.text.includes('snap-a'), snaps.text);
    const list = await run(w, USER.bob, 'job', 'list');
    assertEphemeral(list);
    assert.equal(list.ack.type, 4, 'a database read is answered directly');
    const first = w.jobs().at(-1)!;
    const status = await run(w, USER.bob, 'job', 'status', { id: first.id });
    assertEphemeral(status);
    assert.match(status.text, /succeeded/);
  });

  it('/host list and /host info answer ephemerally with the host\'s figures; /host drain is for admins', async () => {
    const list = await run(w, USER.bob, 'host', 'list');
    assertEphemeral(list);
    assert.match(list.text, /local — up · libvirt \d+\.\d+\.\d+ · QEMU [\d.]+ · \d+ CPUs? · memory [\d.]+ GiB available of [\d.]+ GiB/, list.text);
    const info = await run(w, USER.bob, 'host', 'info', { host: 'local' });
    assertEphemeral(info);
    assert.match(info.text, new RegExp(`templates \\(\\d+\\): [^\\n]*${tpl}`), info.text);
    await refused(USER.alice, 'host', 'drain', { host: 'local' }, 'forbidden');
  });

  it('/audit with a user option (type 6): admins only, that member’s rows as mentions that ping no one', async () => {
    const refusedFor = await run(w, USER.alice, 'audit', undefined, {});
    assertEphemeral(refusedFor);
    assert.match(refusedFor.text, /Refused \(forbidden\)/);
    const a = await run(w, USER.root, 'audit', undefined, { user: USER.alice, command: 'snapshot create', since: '1h' });
    assertEphemeral(a);
    assert.equal(a.ack.type, 4, 'a database read is answered directly');
    assert.match(a.text, /Audit, last 1h, \/snapshot create/);
    // alice's snapshot in before(): her mention, a Discord timestamp, accepted with its job.
    assert.match(a.text, new RegExp(`<t:\\d+:[a-zA-Z]> · <@${USER.alice}> · /snapshot create · accepted: job #\\d+`), a.text);
    assert.doesNotMatch(a.text, new RegExp(`<@${USER.root}>|/template create`), 'only alice, only the command asked for');
    assert.deepEqual(a.message.allowedMentions, { parse: [] }, 'the mention pings nobody');
  });

  it('autocomplete offers template, VM, snapshot (of the chosen VM) and host names; nothing without a role', async () => {
    const templates = await w.emulator.sendAutocomplete({ user: USER.alice, name: 'deploy', options: { template: w.lab.prefix }, focused: 'template' });
    assert.deepEqual(templates, [{ name: tpl, value: tpl }]);
    const vms = await w.emulator.sendAutocomplete({ user: USER.alice, name: 'vm', subcommand: 'start', options: { vm: w.lab.prefix }, focused: 'vm' });
    assert.deepEqual(vms.map((c) => c.value), [src]);
    const snaps = await w.emulator.sendAutocomplete({ user: USER.alice, name: 'snapshot', subcommand: 'revert', options: { vm: src, name: 'sn' }, focused: 'name' });
    assert.deepEqual(snaps.map((c) => c.value), ['snap-a']);
    const hosts = await w.emulator.sendAutocomplete({ user: USER.alice, name: 'vm', subcommand: 'list', options: {}, focused: 'host' });
    assert.deepEqual(hosts.map((c) => c.value), ['local']);
    const none = await w.emulator.sendAutocomplete({ user: USER.carol, name: 'vm', subcommand: 'start', options: { vm: w.lab.prefix }, focused: 'vm' });
    assert.deepEqual(none, []);
  });

  it('answers "restarting" while paused for shutdown, reaching no handler', async () => {
    w.bot.discord.pause();
    const jobs = w.jobs().length;
    const a = await run(w, USER.alice, 'deploy', undefined, { template: tpl, name: w.lab.vmName('late') });
    assertEphemeral(a);
    assert.match(a.text, /restarting/);
    assert.equal(w.jobs().length, jobs);
  });
});
