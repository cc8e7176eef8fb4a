/**
 * Proves the Discord API emulator drives the real discord.js Client end to end: login and ready,
 * slash commands and autocomplete, channel messages, reactions on uncached messages, rate limits
 * and 5xx retries, a gateway drop with RESUME, and a bot restart against the same state.
 *
 * Run: node --import tsx --test test/discord-emulator.test.ts
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ChannelType,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  HTTPError,
  MessageFlags,
  Partials,
  Routes,
  SlashCommandBuilder,
} from 'discord.js';
import type { ChatInputCommandInteraction, ClientEvents, Interaction, TextChannel } from 'discord.js';
import { DiscordEmulator } from './discord-emulator/index.js';
import type { DiscordEmulatorOptions } from './discord-emulator/index.js';

const ALICE = '200000000000000001'; // operator, requests things
const BOB = '200000000000000002'; // approver
const OPERATOR = '300000000000000001';
const APPROVER = '300000000000000002';

const world: DiscordEmulatorOptions = {
  guildName: 'lab',
  channels: [{ id: '400000000000000001', name: 'ops' }],
  members: [
    { id: ALICE, username: 'alice', roles: [OPERATOR] },
    { id: BOB, username: 'bob', roles: [APPROVER] },
  ],
  roles: [
    { id: OPERATOR, name: 'operator' },
    { id: APPROVER, name: 'approver' },
  ],
};

/** A subset of the contract's commands, enough to exercise subcommands, choices, bounds and autocomplete. */
const commands = [
  new SlashCommandBuilder()
    .setName('deploy')
    .setDescription('Deploy VMs from a template')
    .addStringOption((o) => o.setName('template').setDescription('template').setRequired(true).setAutocomplete(true))
    .addStringOption((o) => o.setName('name').setDescription('VM name').setRequired(true))
    .addStringOption((o) => o.setName('mode').setDescription('thin or clone').addChoices({ name: 'thin', value: 'thin' }, { name: 'clone', value: 'clone' }))
    .addIntegerOption((o) => o.setName('count').setDescription('how many').setMinValue(1).setMaxValue(20))
    .addBooleanOption((o) => o.setName('start').setDescription('start them')),
  new SlashCommandBuilder()
    .setName('snapshot')
    .setDescription('Snapshots')
    .addSubcommand((s) =>
      s
        .setName('create')
        .setDescription('create a snapshot')
        .addStringOption((o) => o.setName('vm').setDescription('VM').setRequired(true))
        .addStringOption((o) => o.setName('name').setDescription('snapshot').setRequired(true))
        .addStringOption((o) => o.setName('kind').setDescription('kind').addChoices({ name: 'internal', value: 'internal' }, { name: 'external', value: 'external' })),
    )
    .addSubcommand((s) =>
      s
        .setName('revert')
        .setDescription('revert to a snapshot')
        .addStringOption((o) => o.setName('vm').setDescription('VM').setRequired(true))
        .addStringOption((o) => o.setName('name').setDescription('snapshot').setRequired(true).setAutocomplete(true)),
    ),
].map((c) => c.toJSON());

interface World {
  discord: DiscordEmulator;
  /** Logs a new bot in and waits for clientReady; destroyed when the test ends. */
  bot(): Promise<Client<true>>;
}

/** Starts an emulator for one test; everything is closed in t.after so the runner can exit. */
async function setup(t: TestContext, options: DiscordEmulatorOptions = {}): Promise<World> {
  const discord = await new DiscordEmulator({ ...world, ...options }).start();
  const clients: Client[] = [];
  t.after(async () => {
    for (const client of clients) await client.destroy();
    await discord.stop();
  });
  return {
    discord,
    async bot() {
      const client = new Client({
        intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.GuildMembers],
        partials: [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User],
        rest: { api: discord.restUrl },
      });
      clients.push(client);
      const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
      await client.login('emulated-token');
      return ready;
    },
  };
}

function textChannel(client: Client<true>, id: string): TextChannel {
  const channel = client.channels.cache.get(id);
  assert.ok(channel, `channel ${id} in cache`);
  assert.equal(channel.type, ChannelType.GuildText);
  return channel;
}

/** Resolves with the next event of that name (typed by discord.js's ClientEvents). */
function nextEvent<E extends keyof ClientEvents>(
  client: Client,
  event: E,
  filter: (...args: ClientEvents[E]) => boolean = () => true,
): Promise<ClientEvents[E]> {
  return new Promise((resolve) => {
    const listener = (...args: ClientEvents[E]): void => {
      if (!filter(...args)) return;
      client.off(event, listener);
      resolve(args);
    };
    client.on(event, listener);
  });
}

test('login: READY + GUILD_CREATE fill the cache, heartbeats are ACKed, members come over REST and op 8', async (t) => {
  const { discord, bot } = await setup(t, { heartbeatIntervalMs: 100 });
  const client = await bot();

  const guild = client.guilds.cache.get(discord.guildId);
  assert.ok(guild?.available);
  assert.equal(guild.name, 'lab');
  assert.equal(textChannel(client, discord.channelId).name, 'ops');
  assert.deepEqual(guild.roles.cache.map((r) => r.name).sort(), ['@everyone', 'approver', 'kvmops', 'operator']);
  // Realistic GUILD_CREATE: without the GuildPresences intent only the bot's own member is sent.
  assert.deepEqual([...guild.members.cache.keys()], [client.user.id]);
  assert.equal(client.user.id, discord.botUserId);
  assert.equal(client.application.id, discord.applicationId);

  const alice = await guild.members.fetch(ALICE); // GET /guilds/:id/members/:user
  assert.ok(alice.roles.cache.has(OPERATOR));
  const everyone = await guild.members.fetch(); // gateway op 8 → GUILD_MEMBERS_CHUNK
  assert.equal(everyone.size, 3);

  await discord.waitFor(() => client.ws.ping >= 0 && discord.heartbeatCount > 0, 2000, 'a heartbeat ACK');
  assert.deepEqual(discord.gatewayConnections()[0]?.query, { v: '10', encoding: 'json' });
  assert.equal(discord.identifyCount, 1);
  assert.deepEqual(discord.unknownRoutes(), []);
});

test('slash command: ChatInputCommandInteraction with subcommand and typed options; ephemeral reply', async (t) => {
  const { discord, bot } = await setup(t);
  const client = await bot();
  const guild = client.guilds.cache.get(discord.guildId);
  assert.ok(guild);
  const registered = await guild.commands.set(commands); // PUT /applications/:app/guilds/:guild/commands
  assert.deepEqual(discord.registeredCommands()?.map((c) => c.name), ['deploy', 'snapshot']);
  assert.deepEqual([...registered.keys()].sort(), discord.registeredCommands()?.map((c) => c.id).sort());

  const seen: Array<Record<string, unknown>> = [];
  client.on(Events.InteractionCreate, (interaction: Interaction) => {
    if (!interaction.isChatInputCommand()) return;
    void handle(interaction);
  });
  async function handle(interaction: ChatInputCommandInteraction): Promise<void> {
    if (interaction.commandName === 'snapshot') {
      seen.push({
        sub: interaction.options.getSubcommand(),
        vm: interaction.options.getString('vm', true),
        name: interaction.options.getString('name', true),
        kind: interaction.options.getString('kind'),
        operator: interaction.inCachedGuild() && interaction.member.roles.cache.has(OPERATOR),
        user: interaction.user.username,
        channel: interaction.channelId,
        command: interaction.command?.name,
        canSend: interaction.memberPermissions?.has('SendMessages'),
      });
      await interaction.reply({ content: 'queued job 1', flags: MessageFlags.Ephemeral });
    } else if (interaction.commandName === 'deploy') {
      seen.push({ count: interaction.options.getInteger('count'), start: interaction.options.getBoolean('start'), mode: interaction.options.getString('mode') });
      // The deprecated form still works (and prints a one-time DeprecationWarning).
      await interaction.reply({ content: 'refused: no template', ephemeral: true });
    }
  }

  const snap = discord.sendSlashCommand({ user: ALICE, name: 'snapshot', subcommand: 'create', options: { vm: 'web1', name: 'before-upgrade', kind: 'external' } });
  const ack = await snap.response();
  assert.equal(ack.type, 4);
  assert.equal(ack.ephemeral, true);
  assert.equal(ack.late, false);
  assert.ok(ack.receivedAfterMs < 3000, `acked after ${ack.receivedAfterMs} ms`);
  assert.deepEqual(seen[0], {
    sub: 'create', vm: 'web1', name: 'before-upgrade', kind: 'external', operator: true, user: 'alice',
    channel: discord.channelId, command: 'snapshot', canSend: true,
  });
  assert.equal(snap.original()?.content, 'queued job 1');
  assert.equal(snap.original()?.ephemeral, true);
  assert.deepEqual(discord.messages(), [], 'an ephemeral reply is not a channel message');

  const deploy = discord.sendSlashCommand({ user: BOB, name: 'deploy', options: { template: 'debian12', name: 'web', count: 3, start: true } });
  assert.equal((await deploy.response()).ephemeral, true);
  assert.deepEqual(seen[1], { count: 3, start: true, mode: null });

  // The emulator refuses input a Discord client could not send.
  assert.throws(() => discord.sendSlashCommand({ user: ALICE, name: 'deploy', options: { template: 't', name: 'n', count: 21 } }), /max_value/);
  assert.throws(() => discord.sendSlashCommand({ user: ALICE, name: 'snapshot', options: { vm: 'x' } }), /needs a subcommand/);
  assert.deepEqual(discord.unknownRoutes(), []);
});

test('deferReply + editReply + followUp: a public response is a channel message with its edits', async (t) => {
  const { discord, bot } = await setup(t);
  const client = await bot();
  client.on(Events.InteractionCreate, (interaction) => {
    if (!interaction.isChatInputCommand()) return;
    void (async () => {
      await interaction.deferReply();
      await sleep(30);
      await interaction.editReply(`Deploying ${interaction.options.getInteger('count') ?? 1} VMs…`);
      await interaction.followUp(`<@${interaction.user.id}> job 2 finished`);
    })();
  });

  const deploy = discord.sendSlashCommand({ user: ALICE, name: 'deploy', options: { template: 'debian12', name: 'web', count: 2 } });
  const ack = await deploy.response();
  assert.equal(ack.type, 5);
  assert.equal(ack.ephemeral, false);
  const original = await discord.waitFor(() => deploy.original()?.edits.length === 1 && deploy.original(), 2000, 'the edited reply');
  assert.equal(original.content, 'Deploying 2 VMs…');
  assert.equal(original.type, 20);
  const followup = await discord.waitFor(() => deploy.followups()[0], 2000, 'a follow-up');
  assert.deepEqual(followup.mentionUserIds, [ALICE]);
  assert.deepEqual(discord.messages().map((m) => m.id), [original.id, followup.id]);
});

test('autocomplete: the focused option arrives marked and the choices come back', async (t) => {
  const { discord, bot } = await setup(t);
  const client = await bot();
  await client.application.commands.set(commands, discord.guildId);
  client.on(Events.InteractionCreate, (interaction) => {
    if (!interaction.isAutocomplete()) return;
    const focused = interaction.options.getFocused(true);
    const vm = interaction.options.getString('vm');
    const names = ['before-upgrade', 'base', 'nightly'].filter((n) => n.startsWith(focused.value));
    void interaction.respond(names.map((n) => ({ name: `${vm}: ${n}`, value: n })));
  });

  const choices = await discord.sendAutocomplete({ user: ALICE, name: 'snapshot', subcommand: 'revert', options: { vm: 'web1', name: 'b' }, focused: 'name' });
  assert.deepEqual(choices, [
    { name: 'web1: before-upgrade', value: 'before-upgrade' },
    { name: 'web1: base', value: 'base' },
  ]);
  const [callback] = discord.requests('POST /interactions/:id/:token/callback');
  assert.ok(callback && typeof callback.body === 'object' && callback.body !== null && 'type' in callback.body);
  assert.equal(callback.body.type, 8);
});

test('channel messages: send, edit twice, react ✅ ❌; the bot sees its own reactions come back', async (t) => {
  const { discord, bot } = await setup(t);
  const client = await bot();
  const channel = textChannel(client, discord.channelId);
  const ownReactions: string[] = [];
  client.on(Events.MessageReactionAdd, (reaction, user) => {
    if (user.id === client.user.id) ownReactions.push(reaction.emoji.name ?? '?');
  });

  const message = await channel.send('job 7 queued');
  await message.edit('job 7 running');
  await message.edit({ content: 'job 7 succeeded', embeds: [{ title: 'deploy web-01', description: 'took 12 s' }] });
  await message.react('✅');
  await message.react('❌');

  const [stored] = discord.messages();
  assert.ok(stored);
  assert.equal(stored.content, 'job 7 succeeded');
  assert.deepEqual(stored.edits.map((e) => e.content), ['job 7 running', 'job 7 succeeded']);
  assert.deepEqual(stored.reactions, [{ emoji: '✅', userIds: [client.user.id] }, { emoji: '❌', userIds: [client.user.id] }]);
  await discord.waitFor(() => ownReactions.length === 2, 2000, 'own reaction events');

  const fetched = await channel.messages.fetch({ message: message.id, force: true });
  assert.equal(fetched.reactions.cache.get('✅')?.count, 1);
  assert.equal(fetched.reactions.cache.get('✅')?.me, true);
  assert.equal(fetched.embeds[0]?.title, 'deploy web-01');
  assert.ok(fetched.editedTimestamp !== null);
});

test('restart: reactions made while the bot was down are read back; a reaction on an uncached message arrives partial', async (t) => {
  const { discord, bot } = await setup(t);
  const first = await bot();
  const approval = await textChannel(first, discord.channelId).send('Revert web1 to before-upgrade? ✅ approve / ❌ reject');
  await approval.react('✅');
  await approval.react('❌');
  await first.destroy();

  assert.equal(discord.react(BOB, discord.channelId, approval.id, '✅'), true, 'stored with no bot connected');

  const second = await bot();
  assert.equal(discord.identifyCount, 2);
  assert.equal(textChannel(second, discord.channelId).messages.cache.has(approval.id), false, 'the new client never saw it');

  const arrived = nextEvent(second, Events.MessageReactionAdd, (_r, user) => user.id === ALICE);
  discord.react(ALICE, discord.channelId, approval.id, '❌');
  const [reaction, user] = await arrived;
  assert.equal(reaction.partial, true);
  assert.equal(reaction.message.partial, true);
  assert.equal(user.id, ALICE);
  const full = await reaction.fetch();
  assert.equal(full.count, 2);
  const reactors = await full.users.fetch();
  assert.deepEqual([...reactors.keys()].sort(), [ALICE, discord.botUserId].sort());

  // Start-up catch-up: read the ✅ reactions of a pending approval message.
  const message = await textChannel(second, discord.channelId).messages.fetch(approval.id);
  const approvers = await message.reactions.cache.get('✅')?.users.fetch();
  assert.deepEqual([...(approvers?.keys() ?? [])].sort(), [BOB, discord.botUserId].sort());
  assert.equal(message.content, approval.content);
});

test('429: discord.js waits retry-after and retries transparently', async (t) => {
  const { discord, bot } = await setup(t);
  const client = await bot();
  discord.failNext('POST /channels/:channel/messages', { status: 429, retryAfter: 0.3 });
  const started = Date.now();
  const message = await textChannel(client, discord.channelId).send('after a rate limit');
  assert.ok(Date.now() - started >= 300, `waited ${Date.now() - started} ms`);
  assert.deepEqual(discord.requests('POST /channels/:channel/messages').map((r) => r.status), [429, 200]);
  assert.equal(discord.message(message.id)?.content, 'after a rate limit');
});

test("message creates: Discord's 5 per 5 s per channel, with its headers and a 429 for the 6th; another channel has its own bucket", async (t) => {
  const { discord } = await setup(t, { channels: [{ id: '400000000000000001', name: 'ops' }, { id: '400000000000000002', name: 'dev' }] });
  const post = (channel: string) =>
    fetch(`${discord.restUrl}/v10/channels/${channel}/messages`, {
      method: 'POST',
      headers: { authorization: 'Bot any', 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'hello' }),
    });
  const [ops, dev] = discord.channelIds as [string, string];
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await post(ops));
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200, 200, 429]);
  assert.deepEqual(answers.map((r) => r.headers.get('x-ratelimit-remaining')), ['4', '3', '2', '1', '0', '0']);
  for (const r of answers) assert.equal(r.headers.get('x-ratelimit-limit'), '5');
  assert.equal(new Set(answers.map((r) => r.headers.get('x-ratelimit-bucket'))).size, 1, 'one bucket');
  const limited = answers[5]!;
  const body = (await limited.json()) as { message: string; retry_after: number; global: boolean };
  assert.equal(body.global, false);
  assert.ok(body.retry_after > 0 && body.retry_after <= 5, `retry_after ${body.retry_after}`);
  assert.equal(Number(limited.headers.get('retry-after')), body.retry_after);
  assert.ok(Number(limited.headers.get('x-ratelimit-reset-after')) <= 5);
  assert.equal(limited.headers.get('x-ratelimit-scope'), 'user');
  assert.equal(discord.rateLimitedCount, 1);
  assert.equal((await post(dev)).status, 200, 'another channel: its own bucket');
  assert.equal(discord.messages(ops).length, 5, 'the refused create posted nothing');
  assert.equal(discord.messages(dev).length, 1);
});

test('message creates: discord.js reads the headers and waits, so 7 sends take a window and no 429 is served', async (t) => {
  const { discord, bot } = await setup(t);
  const client = await bot();
  const channel = textChannel(client, discord.channelId);
  const started = Date.now();
  await Promise.all(Array.from({ length: 7 }, (_, i) => channel.send(`message ${i}`)));
  const took = Date.now() - started;
  assert.equal(discord.rateLimitedCount, 0, 'no 429: discord.js held the 6th until the bucket reset');
  assert.ok(took >= 4_000, `the 6th waited for the window (${took} ms)`);
  assert.equal(discord.messages().filter((m) => m.content.startsWith('message ')).length, 7);
});

test('5xx: discord.js retries 3 times at once (4 attempts), then throws HTTPError', async (t) => {
  const { discord, bot } = await setup(t);
  const client = await bot();
  const channel = textChannel(client, discord.channelId);

  discord.failNext('POST /channels/:channel/messages', { status: 500, count: 2 });
  await channel.send('survives two 500s');
  assert.deepEqual(discord.requests('POST /channels/:channel/messages').map((r) => r.status), [500, 500, 200]);

  discord.failNext('PATCH /channels/:channel/messages/:message', { status: 502, count: 4 });
  const message = discord.messages()[0];
  assert.ok(message);
  await assert.rejects(channel.messages.edit(message.id, 'never'), (error: unknown) => error instanceof HTTPError && error.status === 502);
  assert.deepEqual(discord.requests('PATCH *').map((r) => r.status), [502, 502, 502, 502]);
  assert.equal(discord.pendingFailures, 0);
});

test('gateway drop: the client RESUMEs and events dispatched meanwhile are replayed', async (t) => {
  const { discord, bot } = await setup(t);
  const client = await bot();
  const message = await textChannel(client, discord.channelId).send('pending approval');
  client.on(Events.InteractionCreate, (interaction) => {
    if (interaction.isChatInputCommand()) void interaction.reply({ content: 'ok', flags: MessageFlags.Ephemeral });
  });
  const resumed = nextEvent(client, Events.ShardResume);
  const reacted = nextEvent(client, Events.MessageReactionAdd, (_r, user) => user.id === BOB);

  discord.dropGateway();
  discord.react(BOB, discord.channelId, message.id, '✅');
  const command = discord.sendSlashCommand({ user: ALICE, name: 'vm', subcommand: 'list', options: {} });

  const [[reaction]] = await Promise.all([reacted, resumed]);
  assert.equal(reaction.message.id, message.id);
  const ack = await command.response();
  assert.equal(ack.type, 4);
  assert.equal(discord.identifyCount, 1);
  assert.equal(discord.resumeCount, 1);
  assert.deepEqual(discord.gatewayEvents().filter((e) => e.replay).map((e) => e.t), ['MESSAGE_REACTION_ADD', 'INTERACTION_CREATE']);
});

test('deadline: an interaction answered after interactionDeadlineMs gets 10062 Unknown interaction', async (t) => {
  const { discord, bot } = await setup(t, { interactionDeadlineMs: 100 });
  const client = await bot();
  const errors: unknown[] = [];
  client.on(Events.InteractionCreate, (interaction) => {
    if (!interaction.isChatInputCommand()) return;
    void sleep(200)
      .then(() => interaction.reply('too late'))
      .catch((error: unknown) => errors.push(error));
  });
  const ack = await discord.sendSlashCommand({ user: ALICE, name: 'job', subcommand: 'list' }).response();
  assert.equal(ack.late, true);
  assert.equal(ack.status, 404);
  await discord.waitFor(() => errors.length === 1, 2000, 'the reply to fail');
  assert.ok(errors[0] instanceof DiscordAPIError && errors[0].code === 10062);
});

test('Discord errors: unknown message 10008, empty message 50006, unknown routes reported as 404', async (t) => {
  const reported: string[] = [];
  const { discord, bot } = await setup(t, { onUnknownRoute: (r) => reported.push(`${r.method} ${r.path}`) });
  const client = await bot();
  const channel = textChannel(client, discord.channelId);
  await assert.rejects(channel.messages.fetch('999999999999999999'), (e: unknown) => e instanceof DiscordAPIError && e.code === 10008 && e.status === 404);
  await assert.rejects(channel.send({ content: '' }), (e: unknown) => e instanceof Error);
  await assert.rejects(client.rest.post(Routes.channelMessages(discord.channelId), { body: { content: '' } }), (e: unknown) => e instanceof DiscordAPIError && e.code === 50006);
  await assert.rejects(client.rest.get(Routes.guildBans(discord.guildId)), (e: unknown) => e instanceof DiscordAPIError && e.status === 404);
  assert.deepEqual(reported, [`GET /guilds/${discord.guildId}/bans`]);
  assert.equal(discord.unknownRoutes().length, 1);
});
