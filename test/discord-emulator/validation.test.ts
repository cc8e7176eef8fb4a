/**
 * The emulator refuses what Discord refuses, with Discord's error shape (50035 "Invalid Form
 * Body" and an `errors` tree naming the field), so a bot test cannot pass where Discord would
 * fail: content and embed limits (in code points), unpaired surrogates, conflicting
 * allowed_mentions, nonces (length; enforce_nonce returning the first message), autocomplete
 * choices; and the afterWrite fault (written, then answered 5xx) that makes retries visible.
 *
 * Driven by the real discord.js REST client and Client. Run:
 *   node --import tsx --test test/discord-emulator/validation.test.ts
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Client, DiscordAPIError, Events, GatewayIntentBits, MessageFlags, REST, Routes, SlashCommandBuilder, type APIMessage, type ButtonInteraction } from 'discord.js';
import { DiscordEmulator } from './index.js';

const ALICE = '200000000000000001';
const BOB = '200000000000000002';

/** Clients to destroy before their emulator stops. */
const stopFirst: Array<() => Promise<void>> = [];

async function emulator(t: TestContext): Promise<{ discord: DiscordEmulator; rest: REST; post(body: unknown): Promise<APIMessage> }> {
  const discord = await new DiscordEmulator({
    channels: [{ id: '400000000000000001', name: 'ops' }],
    members: [
      { id: ALICE, username: 'alice' },
      { id: BOB, username: 'bob' },
    ],
  }).start();
  t.after(async () => {
    for (const stop of stopFirst.splice(0)) await stop();
    await discord.stop();
  });
  const rest = new REST({ api: discord.restUrl, retries: 3 }).setToken('emulated-token');
  const post = async (body: unknown) => (await rest.post(Routes.channelMessages(discord.channelId), { body })) as APIMessage;
  return { discord, rest, post };
}

/** Asserts `p` fails with 50035 and an `errors` tree whose `path` leads to `_errors[0].code === code`. */
async function invalidFormBody(p: Promise<unknown>, path: Array<string | number>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DiscordAPIError, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.code, 50035);
    const raw = e.rawError as { message: string; errors?: Record<string, unknown> };
    assert.equal(raw.message, 'Invalid Form Body');
    let node: unknown = raw.errors;
    for (const key of path) node = (node as Record<string, unknown> | undefined)?.[String(key)];
    const first = (node as { _errors?: Array<{ code: string; message: string }> } | undefined)?._errors?.[0];
    assert.equal(first?.code, code, `errors.${path.join('.')}: ${JSON.stringify(raw.errors)}`);
    assert.equal(typeof first?.message, 'string');
    return true;
  });
}

test('content: at most 2000 characters, counted in code points', async (t) => {
  const { discord, post } = await emulator(t);
  await invalidFormBody(post({ content: 'x'.repeat(2001) }), ['content'], 'BASE_TYPE_MAX_LENGTH');
  await post({ content: '🚀'.repeat(2000) }); // 4000 UTF-16 units, 2000 characters: Discord accepts it
  await invalidFormBody(post({ content: '🚀'.repeat(2001) }), ['content'], 'BASE_TYPE_MAX_LENGTH');
  assert.equal(discord.messages().length, 1);
});

test('unpaired surrogates are refused wherever they are; pairs are fine', async (t) => {
  const { discord, post } = await emulator(t);
  await invalidFormBody(post({ content: 'cut here: \ud83d' }), ['content'], 'STRING_INVALID_UNICODE');
  await invalidFormBody(post({ embeds: [{ title: 'ok', description: '\ude80 tail' }] }), ['embeds', 0, 'description'], 'STRING_INVALID_UNICODE');
  await invalidFormBody(post({ embeds: [{ fields: [{ name: 'a', value: 'x\ud83d' }] }] }), ['embeds', 0, 'fields', 0, 'value'], 'STRING_INVALID_UNICODE');
  await post({ content: 'whole: \ud83d\ude80' });
  assert.deepEqual(discord.messages().map((m) => m.content), ['whole: 🚀']);
});

test('embed limits: title, description, fields (count, name, value, required), footer, the 6000 total', async (t) => {
  const { discord, post } = await emulator(t);
  await invalidFormBody(post({ embeds: [{ title: 't'.repeat(257) }] }), ['embeds', 0, 'title'], 'BASE_TYPE_MAX_LENGTH');
  await invalidFormBody(post({ embeds: [{ description: 'd'.repeat(4097) }] }), ['embeds', 0, 'description'], 'BASE_TYPE_MAX_LENGTH');
  await invalidFormBody(post({ embeds: [{ fields: [{ name: 'n', value: 'v'.repeat(1025) }] }] }), ['embeds', 0, 'fields', 0, 'value'], 'BASE_TYPE_MAX_LENGTH');
  await invalidFormBody(post({ embeds: [{ fields: [{ name: 'n'.repeat(257), value: 'v' }] }] }), ['embeds', 0, 'fields', 0, 'name'], 'BASE_TYPE_MAX_LENGTH');
  await invalidFormBody(post({ embeds: [{ fields: [{ name: 'n', value: '' }] }] }), ['embeds', 0, 'fields', 0, 'value'], 'BASE_TYPE_REQUIRED');
  const fields = Array.from({ length: 26 }, () => ({ name: 'n', value: 'v' }));
  await invalidFormBody(post({ embeds: [{ fields }] }), ['embeds', 0, 'fields'], 'BASE_TYPE_MAX_LENGTH');
  await invalidFormBody(post({ embeds: [{ footer: { text: 'f'.repeat(2049) } }] }), ['embeds', 0, 'footer', 'text'], 'BASE_TYPE_MAX_LENGTH');
  const big = { description: 'd'.repeat(4096), fields: [{ name: 'n', value: 'v'.repeat(1024) }, { name: 'n', value: 'v'.repeat(1024) }] };
  await invalidFormBody(post({ embeds: [big] }), ['embeds'], 'MAX_EMBED_SIZE_EXCEEDED');
  await post({ embeds: [{ title: '🚀'.repeat(256), description: 'ok', fields: [{ name: 'n', value: 'v' }] }] });
  assert.equal(discord.messages().length, 1);
});

test('allowed_mentions: parse:["users"] and users:[…] are mutually exclusive; pings follow allowed_mentions', async (t) => {
  const { discord, post } = await emulator(t);
  const content = `<@${ALICE}> <@${BOB}> @everyone`;
  await invalidFormBody(post({ content, allowed_mentions: { parse: ['users'], users: [ALICE] } }), ['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE');
  await invalidFormBody(post({ content, allowed_mentions: { parse: ['roles'], roles: ['1'] } }), ['allowed_mentions'], 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE');
  await invalidFormBody(post({ content, allowed_mentions: { parse: ['admins'] } }), ['allowed_mentions', 'parse', 0], 'BASE_TYPE_CHOICES');
  await post({ content, allowed_mentions: { parse: [] } });
  await post({ content, allowed_mentions: { parse: [], users: [ALICE] } });
  await post({ content, allowed_mentions: { parse: ['users'], users: [] } });
  await post({ content });
  await post({ content: `\\<@${ALICE}> \\@everyone` });
  assert.deepEqual(
    discord.messages().map((m) => m.pings),
    [
      { users: [], roles: [], everyone: false },
      { users: [ALICE], roles: [], everyone: false },
      { users: [ALICE, BOB], roles: [], everyone: false },
      { users: [ALICE, BOB], roles: [], everyone: true },
      { users: [], roles: [], everyone: false },
    ],
  );
});

test('nonce: at most 25 characters; enforce_nonce returns the first message instead of posting another', async (t) => {
  const { discord, post } = await emulator(t);
  await invalidFormBody(post({ content: 'x', nonce: 'n'.repeat(26) }), ['nonce'], 'BASE_TYPE_MAX_LENGTH');
  const first = await post({ content: 'approval request', nonce: 'approval-7', enforce_nonce: true });
  const again = await post({ content: 'approval request', nonce: 'approval-7', enforce_nonce: true });
  assert.equal(again.id, first.id);
  assert.equal(first.nonce, 'approval-7');
  // Without enforce_nonce a nonce does not deduplicate (as on Discord).
  await post({ content: 'plain', nonce: 'p-1' });
  await post({ content: 'plain', nonce: 'p-1' });
  assert.deepEqual(discord.messages().map((m) => m.content), ['approval request', 'plain', 'plain']);
});

test('failNext afterWrite: the message is written, the answer is a 500; discord.js retries; only a nonce keeps it one message', async (t) => {
  const { discord, post } = await emulator(t);
  discord.failNext('POST /channels/:channel/messages', { status: 500, afterWrite: true });
  const m = await post({ content: 'with nonce', nonce: 'approval-8', enforce_nonce: true });
  assert.equal(discord.pendingFailures, 0);
  assert.deepEqual(discord.messages().map((x) => x.id), [m.id], 'the retry returned the first message');
  assert.deepEqual(discord.requests('POST /channels/:channel/messages').map((r) => r.status), [500, 200]);

  discord.failNext('POST /channels/:channel/messages', { status: 500, afterWrite: true });
  await post({ content: 'without nonce' });
  assert.deepEqual(discord.messages().map((x) => x.content), ['with nonce', 'without nonce', 'without nonce'], 'the retry posted a second copy');
});

test('autocomplete: a choice over 100 characters, an empty name or more than 25 choices refuse the whole answer', async (t) => {
  const { discord } = await emulator(t);
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: discord.restUrl } });
  // Before the emulator stops (hooks run in order): a client without its gateway keeps reconnecting.
  stopFirst.push(() => client.destroy());
  const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
  await client.login('emulated-token');
  await ready;
  const vm = new SlashCommandBuilder().setName('vm').setDescription('VMs').addStringOption((o) => o.setName('vm').setDescription('VM').setRequired(true).setAutocomplete(true));
  await client.application!.commands.set([vm.toJSON()], discord.guildId);
  let answer: Array<{ name: string; value: string }> = [];
  const failures: unknown[] = [];
  client.on(Events.InteractionCreate, (i) => {
    if (i.isAutocomplete()) i.respond(answer).catch((e: unknown) => failures.push(e));
  });
  const ask = () => discord.sendAutocomplete({ user: ALICE, name: 'vm', options: { vm: 'w' }, focused: 'vm' });

  answer = [{ name: 'web-01', value: 'web-01' }, { name: '🚀'.repeat(100), value: '🚀'.repeat(100) }];
  assert.deepEqual((await ask()).map((c) => c.value), ['web-01', '🚀'.repeat(100)]);
  for (const [bad, path, code] of [
    [[{ name: 'web-01', value: 'web-01' }, { name: 'w'.repeat(101), value: 'w' }], ['data', 'choices', 1, 'name'], 'BASE_TYPE_BAD_LENGTH'],
    [[{ name: 'w', value: 'w'.repeat(101) }], ['data', 'choices', 0, 'value'], 'BASE_TYPE_MAX_LENGTH'],
    [[{ name: '', value: 'w' }], ['data', 'choices', 0, 'name'], 'BASE_TYPE_BAD_LENGTH'],
    [Array.from({ length: 26 }, (_, i) => ({ name: `n${i}`, value: `n${i}` })), ['data', 'choices'], 'BASE_TYPE_MAX_LENGTH'],
  ] as const) {
    answer = [...bad];
    failures.length = 0;
    await assert.rejects(ask(), /not choices/);
    await discord.waitFor(() => failures.length === 1, 2000, 'the bot to see the refusal');
    await invalidFormBody(Promise.reject(failures[0]), [...path], code);
  }
});

test('components: action rows of buttons as Discord limits them, refused with the field named; the same on edit', async (t) => {
  const { discord, rest, post } = await emulator(t);
  const button = (over: Record<string, unknown> = {}) => ({ type: 2, style: 1, label: 'Approve', custom_id: 'approve:1', ...over });
  const row = (...components: unknown[]) => ({ type: 1, components });
  const ok = await post({ content: 'ok', components: [row(button(), button({ custom_id: 'x'.repeat(100), label: '🚀'.repeat(80), style: 4 })), row(button({ style: 5, url: 'https://example.org', custom_id: undefined }))] });
  assert.equal(ok.components?.length, 2);

  const cases: Array<[unknown, Array<string | number>, string]> = [
    [[row(button({ custom_id: 'x'.repeat(101) }))], ['components', 0, 'components', 0, 'custom_id'], 'BASE_TYPE_BAD_LENGTH'],
    [[row(button({ custom_id: undefined }))], ['components', 0, 'components', 0, 'custom_id'], 'BASE_TYPE_REQUIRED'],
    [[row(...Array.from({ length: 6 }, (_, i) => button({ custom_id: `b${i}` })))], ['components', 0, 'components'], 'BASE_TYPE_BAD_LENGTH'],
    [[row()], ['components', 0, 'components'], 'BASE_TYPE_BAD_LENGTH'],
    [Array.from({ length: 6 }, (_, i) => row(button({ custom_id: `r${i}` }))), ['components'], 'BASE_TYPE_MAX_LENGTH'],
    [[button()], ['components', 0, 'type'], 'UNION_TYPE_CHOICES'],
    [[row(button({ style: 7 }))], ['components', 0, 'components', 0, 'style'], 'BASE_TYPE_CHOICES'],
    [[row(button({ label: 'x'.repeat(81) }))], ['components', 0, 'components', 0, 'label'], 'BASE_TYPE_MAX_LENGTH'],
    [[row(button({ label: undefined }))], ['components', 0, 'components', 0, 'label'], 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED'],
    [[row(button({ style: 5, url: 'https://example.org' }))], ['components', 0, 'components', 0, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_FORBIDDEN'],
    [[row(button({ style: 5, custom_id: undefined }))], ['components', 0, 'components', 0, 'url'], 'BASE_TYPE_REQUIRED'],
    [[row(button({ url: 'https://example.org' }))], ['components', 0, 'components', 0, 'url'], 'BUTTON_COMPONENT_URL_FORBIDDEN'],
    [[row(button()), row(button())], ['components', 1, 'components', 0, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED'],
    [[row(button({ disabled: 'yes' }))], ['components', 0, 'components', 0, 'disabled'], 'BASE_TYPE_BOOLEAN'],
  ];
  for (const [components, path, code] of cases) {
    await invalidFormBody(post({ content: 'bad', components }), path, code);
    await invalidFormBody(rest.patch(Routes.channelMessage(discord.channelId, ok.id), { body: { components } }), path, code);
  }
  assert.deepEqual(discord.messages().map((m) => m.content), ['ok'], 'nothing refused was posted');
  assert.equal(discord.message(ok.id)!.edits.length, 0, 'nothing refused was edited in');
});

test('button clicks: INTERACTION_CREATE type 3 with custom_id, member and message; callbacks 4 (ephemeral), 6, 7 accepted, 8 refused; disabled buttons cannot be clicked', async (t) => {
  const { discord, post } = await emulator(t);
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: discord.restUrl } });
  stopFirst.push(() => client.destroy());
  const ready = new Promise((resolve) => client.once(Events.ClientReady, resolve));
  await client.login('emulated-token');
  await ready;
  const message = await post({
    content: 'pick',
    components: [{ type: 1, components: [
      { type: 2, style: 3, label: 'Approve', custom_id: 'approve:1' },
      { type: 2, style: 4, label: 'Reject', custom_id: 'reject:1' },
      { type: 2, style: 2, label: 'Off', custom_id: 'off', disabled: true },
    ] }],
  });
  const seen: Array<{ customId: string; user: string; messageId: string; button: boolean; componentType: number }> = [];
  let answer: (i: ButtonInteraction) => Promise<unknown> = (i) => i.deferUpdate();
  const failures: unknown[] = [];
  client.on(Events.InteractionCreate, (i) => {
    if (!i.isButton()) return;
    seen.push({ customId: i.customId, user: i.user.id, messageId: i.message.id, button: i.isButton(), componentType: i.componentType });
    answer(i).catch((e: unknown) => failures.push(e));
  });

  // 6: deferred update — nothing visible.
  let ack = await discord.clickButton({ user: ALICE, messageId: message.id, customId: 'approve:1' }).response();
  assert.equal(ack.type, 6);
  assert.equal(ack.status, 204);
  assert.deepEqual(seen[0], { customId: 'approve:1', user: ALICE, messageId: message.id, button: true, componentType: 2 });

  // 4 with flags 64: an ephemeral reply only the clicker sees.
  answer = (i) => i.reply({ content: 'you requested this', flags: MessageFlags.Ephemeral });
  const click = discord.clickButton({ user: BOB, messageId: message.id, customId: 'reject:1' });
  ack = await click.response();
  assert.equal(ack.type, 4);
  assert.equal(ack.ephemeral, true);
  assert.equal(discord.messages().length, 1, 'the ephemeral reply is not in the channel');

  // 7: update the message the button is on (with the checks of an edit).
  answer = (i) =>
    i.update({ content: 'decided', components: [{ type: 1, components: [{ type: 2, style: 3, label: 'Approve', custom_id: 'approve:1', disabled: true }, { type: 2, style: 4, label: 'Reject', custom_id: 'reject:1' }] }] });
  ack = await discord.clickButton({ user: BOB, messageId: message.id, customId: 'approve:1' }).response();
  assert.equal(ack.type, 7);
  const updated = discord.message(message.id)!;
  assert.equal(updated.content, 'decided');
  assert.equal((updated.components[0] as { components: Array<{ disabled?: boolean }> }).components[0]!.disabled, true);
  assert.throws(() => discord.clickButton({ user: BOB, messageId: message.id, customId: 'approve:1' }), /disabled/);
  assert.throws(() => discord.clickButton({ user: BOB, messageId: message.id, customId: 'nope' }), /no button/);

  // 7 with an invalid component is refused like an edit; an autocomplete result (8) is no answer to a click.
  failures.length = 0;
  answer = (i) => i.update({ components: [{ type: 1, components: [{ type: 2, style: 1, label: 'x', custom_id: 'x'.repeat(101) }] }] });
  ack = await discord.clickButton({ user: BOB, messageId: message.id, customId: 'reject:1' }).response();
  assert.equal(ack.status, 400);
  await discord.waitFor(() => failures.length === 1, 2000, 'the bot to see the refusal');
  await invalidFormBody(Promise.reject(failures[0]), ['data', 'components', 0, 'components', 0, 'custom_id'], 'BASE_TYPE_BAD_LENGTH');
  assert.equal(discord.message(message.id)!.content, 'decided', 'a refused update changes nothing');
  failures.length = 0;
  answer = (i) => client.rest.post(Routes.interactionCallback(i.id, i.token), { body: { type: 8, data: { choices: [] } }, auth: false });
  discord.clickButton({ user: BOB, messageId: message.id, customId: 'reject:1' });
  await discord.waitFor(() => failures.length === 1, 2000, 'the refused type 8');
  await invalidFormBody(Promise.reject(failures[0]), ['type'], 'INTERACTION_RESPONSE_TYPE_INVALID');
});
