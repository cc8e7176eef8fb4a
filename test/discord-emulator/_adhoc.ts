import { Client, GatewayIntentBits, Partials, Events, MessageFlags, AttachmentBuilder, ChannelType } from 'discord.js';
import { DiscordEmulator } from './index.js';
const ALICE = '200000000000000001';
const emu = await new DiscordEmulator({ token: 'secret', members: [{ id: ALICE, username: 'alice' }], privilegedIntents: { guildPresences: false } }).start();
function mk(intents = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.GuildMembers]) {
  return new Client({ intents, partials: [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User], rest: { api: emu.restUrl } });
}
// bad token
const bad = mk();
try { await bad.login('wrong'); console.log('bad login resolved?!'); } catch (e) { console.log('bad token →', (e as Error).message); }
await bad.destroy();
// disallowed intent
const pres = mk([GatewayIntentBits.Guilds, GatewayIntentBits.GuildPresences]);
pres.on(Events.ShardError, (e) => console.log('shardError', e.message));
const r = await Promise.race([pres.login('secret').then(() => 'login ok'), new Promise((res) => setTimeout(() => res('timeout'), 1500))]).catch((e: Error) => 'login rejected: ' + e.message);
console.log('presences intent →', r);
await pres.destroy();

const c = mk();
const ready = new Promise((r) => c.once(Events.ClientReady, r));
await c.login('secret'); await ready;
const lat: number[] = [];
c.on(Events.InteractionCreate, async (i) => {
  if (!i.isChatInputCommand()) return;
  const res = await i.reply({ content: 'with response', withResponse: true });
  console.log('withResponse message id', res.resource?.message?.id, 'ephemeral', res.interaction.responseMessageEphemeral);
  const fetched = await i.fetchReply();
  console.log('fetchReply content', fetched.content);
  await i.deleteReply();
});
const h = emu.sendSlashCommand({ user: ALICE, name: 'x', options: {} });
const resp = await h.response(); lat.push(resp.receivedAfterMs);
await emu.waitFor(() => h.original()?.deleted, 2000, 'deleted');
console.log('deleted original', h.original()?.deleted);
const ch = c.channels.cache.get(emu.channelId);
if (ch?.type !== ChannelType.GuildText) throw new Error('no ch');
const m = await ch.send({ content: 'file', files: [new AttachmentBuilder(Buffer.from('hello'), { name: 'log.txt' })] });
console.log('attachment', m.attachments.first()?.name, m.attachments.first()?.size, JSON.stringify(emu.requests('POST /channels/:c/messages').at(-1)?.body));
const created: string[] = [];
c.on(Events.MessageCreate, (msg) => created.push(`${msg.author.username}:${msg.content}`));
emu.postMessage(ALICE, emu.channelId, 'hi bot');
emu.postMessage(ALICE, emu.channelId, `hi <@${emu.botUserId}>`);
await new Promise((r) => setTimeout(r, 100));
console.log('messageCreate seen', created);
// latency sample
for (let k = 0; k < 5; k++) { const hh = emu.sendSlashCommand({ user: ALICE, name: 'x', options: {} }); lat.push((await hh.response()).receivedAfterMs); }
console.log('ack latency ms', lat);
const g = c.guilds.cache.get(emu.guildId)!;
console.log('fetch guild', (await c.guilds.fetch({ guild: emu.guildId, force: true })).name, 'roles fetched', (await g.roles.fetch()).size, 'channels', (await g.channels.fetch()).size);
await c.application.fetch(); console.log('application', c.application.name);
// non-resumable drop
const t0 = Date.now();
emu.dropGateway({ resumable: false });
await emu.waitFor(() => emu.identifyCount === 2 && emu.connectedSessions === 1, 15000, 're-identify');
console.log('re-identified after', Date.now() - t0, 'ms; failed resumes', emu.failedResumeCount, 'unknown', emu.unknownRoutes().length);
await c.destroy();
await emu.stop();
