/**
 * The Discord adapter's pure parts: registration payload from the real command definitions,
 * rendering (status embeds, completion message, replies, approval outcomes), REST error
 * classification, and the sink's fallbacks (30046 / 10008 → a fresh status message).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationCommandOptionType, DiscordAPIError, HTTPError, type APIApplicationCommandOption } from 'discord.js';
import { COMMAND_MODULES, loadCommands } from '../../../commands/index.js';
import type { ChannelApi } from '../../../src/adapters/discord/channel-api.js';
import { RetryableSinkError, toSinkError } from '../../../src/adapters/discord/errors.js';
import { invocationOptions, memberRoleIds } from '../../../src/adapters/discord/interactions.js';
import { commandLabels, commandsJson } from '../../../src/adapters/discord/registration.js';
import {
  STATE_COLOURS,
  approvalDecisionMessage,
  approvalRequestMessage,
  buttonId,
  discordText,
  endMessage,
  nonceFor,
  parseButtonId,
  progressBar,
  replyEmbed,
  statusEmbed,
  statusMessage,
} from '../../../src/adapters/discord/render.js';
import { moment, person, withNames } from '../../../src/chat/people.js';
import { DiscordSink } from '../../../src/adapters/discord/sink.js';
import type { Approval } from '../../../src/jobs/types.js';
import { PermanentSinkError, isPermanentSinkError, type StatusView } from '../../../src/notifier/types.js';

const defs = loadCommands(COMMAND_MODULES).map((m) => m.def);
const json = commandsJson(defs);

type Opt = APIApplicationCommandOption & {
  required?: boolean;
  autocomplete?: boolean;
  choices?: Array<{ name: string; value: string | number }>;
  min_value?: number;
  max_value?: number;
  min_length?: number;
  max_length?: number;
  options?: Opt[];
};
const cmd = (name: string) => json.find((c) => c.name === name)!;
const opts = (name: string, sub?: string): Opt[] => {
  const top = (cmd(name).options ?? []) as Opt[];
  return sub ? top.find((o) => o.name === sub)!.options ?? [] : top;
};
const opt = (name: string, sub: string | undefined, option: string) => opts(name, sub).find((o) => o.name === option)!;

describe('registration payload', () => {
  it('has the contract commands and subcommands', () => {
    assert.deepEqual(json.map((c) => c.name).sort(), ['audit', 'deploy', 'host', 'job', 'key', 'schedule', 'snapshot', 'template', 'vm']);
    assert.deepEqual(commandLabels(defs).sort(), [
      '/audit',
      '/deploy',
      '/host drain',
      '/host info',
      '/host list',
      '/job cancel',
      '/job list',
      '/job status',
      '/key add',
      '/key list',
      '/key remove',
      '/schedule create',
      '/schedule delete',
      '/schedule list',
      '/snapshot create',
      '/snapshot delete',
      '/snapshot list',
      '/snapshot revert',
      '/template create',
      '/template delete',
      '/template list',
      '/vm delete',
      '/vm info',
      '/vm list',
      '/vm start',
      '/vm stop',
    ]);
    for (const c of json) {
      assert.equal(c.type, 1);
      if (c.name !== 'deploy' && c.name !== 'audit') assert.ok((c.options as Opt[]).every((o) => o.type === ApplicationCommandOptionType.Subcommand), c.name);
    }
  });

  it('/audit: a user option (type 6: a member picker), command and since as text, none required', () => {
    assert.deepEqual(opts('audit').map((o) => [o.name, o.type, o.required ?? false]), [
      ['user', 6, false],
      ['command', 3, false],
      ['since', 3, false],
    ]);
    assert.deepEqual(Object.keys(opt('audit', undefined, 'user')).sort(), ['description', 'name', 'type'], 'no string bounds on a user option');
  });

  it('/deploy: option types, required, choices, bounds and autocomplete', () => {
    assert.deepEqual(opts('deploy').map((o) => o.name), ['template', 'name', 'mode', 'count', 'start', 'profile', 'host']);
    assert.deepEqual(opt('deploy', undefined, 'profile'), { type: 3, name: 'profile', description: opt('deploy', undefined, 'profile').description, max_length: 63, autocomplete: true });
    assert.deepEqual(opt('deploy', undefined, 'template'), { type: 3, name: 'template', description: opt('deploy', undefined, 'template').description, required: true, max_length: 63, autocomplete: true });
    assert.equal(opt('deploy', undefined, 'name').required, true);
    assert.equal(opt('deploy', undefined, 'name').min_length, 1);
    assert.equal(opt('deploy', undefined, 'name').max_length, 63);
    assert.equal(opt('deploy', undefined, 'name').autocomplete, undefined);
    assert.deepEqual(opt('deploy', undefined, 'mode').choices, [{ name: 'thin', value: 'thin' }, { name: 'clone', value: 'clone' }]);
    assert.equal(opt('deploy', undefined, 'mode').required, undefined);
    const count = opt('deploy', undefined, 'count');
    assert.deepEqual([count.type, count.min_value, count.max_value, count.required], [4, 1, 20, undefined]);
    assert.equal(opt('deploy', undefined, 'start').type, 5);
    assert.deepEqual([opt('deploy', undefined, 'host').required, opt('deploy', undefined, 'host').autocomplete], [undefined, true]);
  });

  it('/schedule: vm (name or pattern), every, keep 1–100, kind, host; delete by id', () => {
    assert.deepEqual(opts('schedule', 'create').map((o) => [o.name, o.type, o.required ?? false]), [
      ['vm', 3, true],
      ['every', 3, true],
      ['keep', 4, true],
      ['kind', 3, false],
      ['host', 3, false],
    ]);
    const keep = opt('schedule', 'create', 'keep');
    assert.deepEqual([keep.min_value, keep.max_value], [1, 100]);
    assert.deepEqual(opt('schedule', 'create', 'kind').choices, [{ name: 'internal', value: 'internal' }, { name: 'external', value: 'external' }]);
    assert.equal(opt('schedule', 'create', 'vm').autocomplete, true);
    assert.deepEqual(opts('schedule', 'list'), []);
    assert.deepEqual(opts('schedule', 'delete').map((o) => [o.name, o.type, o.required, o.min_value]), [['id', 4, true, 1]]);
  });

  it('autocomplete where the contract has it; host optional everywhere; required before optional', () => {
    assert.equal(opt('template', 'create', 'vm').autocomplete, true);
    assert.equal(opt('template', 'create', 'seal').type, 5);
    assert.equal(opt('template', 'delete', 'name').autocomplete, true);
    assert.equal(opt('snapshot', 'revert', 'name').autocomplete, true);
    assert.deepEqual(opt('snapshot', 'create', 'kind').choices?.map((c) => c.value), ['internal', 'external']);
    assert.equal(opt('snapshot', 'create', 'name').autocomplete, undefined, 'a new name completes from nothing');
    assert.equal(opt('vm', 'stop', 'force').type, 5);
    assert.equal(opt('job', 'status', 'id').type, 4);
    assert.equal(opt('job', 'status', 'id').required, true);
    assert.equal(opt('job', 'list', 'mine').type, 5);
    for (const c of json) {
      const lists = c.name === 'deploy' ? [c.options as Opt[]] : (c.options as Opt[]).map((s) => s.options ?? []);
      for (const list of lists) {
        const firstOptional = list.findIndex((o) => !o.required);
        assert.ok(firstOptional === -1 || list.slice(firstOptional).every((o) => !o.required), `${c.name}: required first`);
        for (const o of list) {
          assert.ok([3, 4, 5].includes(o.type), `${c.name} ${o.name} type`);
          assert.ok(!(o.autocomplete && o.choices), `${c.name} ${o.name}: choices and autocomplete exclude each other`);
          if (o.name === 'host') assert.deepEqual([o.required, o.autocomplete], [undefined, true]);
        }
      }
    }
  });
});

const view = (over: Partial<StatusView> = {}): StatusView => ({
  jobId: 7,
  requestId: 'req-0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b',
  kind: 'deploy',
  state: 'running',
  title: 'Deploy web (thin) from base on local',
  lines: ['Job #7 · running', 'Requested by alice', 'Attempt 2 of 3', 'Progress: copying 40%'],
  progress: { step: 'copying', fraction: 0.4 },
  durationMs: 75_000,
  requester: { id: '42', name: 'alice' },
  updatedAt: 1_700_000_000_000,
  ...over,
});

describe('render', () => {
  it('status embed: colour by state, progress bar, duration, notes from the other lines', () => {
    const e = statusEmbed(view());
    assert.equal(e.color, STATE_COLOURS.running);
    assert.equal(e.title, '#7 Deploy web (thin) from base on local');
    assert.deepEqual(e.fields?.map((f) => f.name), ['State', 'Requested by', 'Progress', 'Duration']);
    assert.equal(e.fields?.[2]?.value, '▰▰▰▰▱▱▱▱▱▱ 40% · copying');
    assert.equal(e.description, 'Attempt 2 of 3');
    assert.equal(e.footer?.text, 'job #7 · deploy');
    const colours = (['queued', 'running', 'succeeded', 'failed', 'cancelled', 'awaiting_approval'] as const).map((s) => statusEmbed(view({ state: s })).color);
    assert.deepEqual(colours, [0x95a5a6, 0x3498db, 0x2ecc71, 0xe74c3c, 0xe67e22, 0xe67e22]);
  });

  it('status embed: result when succeeded, error code and message when failed', () => {
    assert.equal(statusEmbed(view({ state: 'succeeded', progress: undefined, result: '1 VM: web_1 (thin)' })).fields?.find((f) => f.name === 'Result')?.value, '1 VM: web\\_1 (thin)');
    const failed = statusEmbed(view({ state: 'failed', progress: undefined, error: { code: 'command-failed', message: 'virsh said no' } }));
    assert.equal(failed.fields?.find((f) => f.name === 'Error')?.value, '`command-failed` virsh said no');
    assert.equal(failed.color, 0xe74c3c);
  });

  it('progress bar bounds', () => {
    assert.equal(progressBar(0), '▱▱▱▱▱▱▱▱▱▱ 0%');
    assert.equal(progressBar(1.7), '▰▰▰▰▰▰▰▰▰▰ 100%');
    assert.equal(progressBar(Number.NaN), '▱▱▱▱▱▱▱▱▱▱ 0%');
  });

  it('completion message: mentions only the requester, idempotent by nonce', () => {
    const m = endMessage(view({ state: 'succeeded', result: '1 VM: web', title: 'Deploy @everyone' }));
    assert.deepEqual(m.allowed_mentions, { parse: [], users: ['42'] });
    // keyed by the request id (job numbers repeat after a restore), hashed to Discord's 25 characters
    assert.equal(m.nonce, nonceFor('end', 'req-0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b'));
    assert.notEqual(m.nonce, nonceFor('end', 'req-1f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b'));
    assert.ok(m.nonce.length <= 25);
    assert.equal(m.enforce_nonce, true);
    assert.equal(m.content, '✅ <@42> job #7 succeeded in 1m 15s — Deploy \\@everyone: 1 VM: web');
  });

  it('replies: tables in a code block, refusal code in the footer', () => {
    const table = replyEmbed({ visibility: 'ephemeral', title: 'VMs on local', lines: ['VM    STATE', 'web1  running'], tone: 'info' });
    assert.equal(table.description, '```\nVM    STATE\nweb1  running\n```');
    const refusal = replyEmbed({ visibility: 'ephemeral', title: 'Refused (forbidden)', lines: ['/deploy needs the operator role.'], tone: 'warning', code: 'forbidden' });
    assert.equal(refusal.footer?.text, 'forbidden');
    assert.equal(refusal.color, 0xe67e22);
  });

  it('approval outcome: who decided, or expired', () => {
    const approval: Approval = {
      jobId: 9, state: 'approved', adapter: 'discord', channelId: '1', messageId: '2', requesterId: '42',
      decidedBy: '43', decidedAt: 1_700_000_000_000, expiresAt: 0, createdAt: 0,
    };
    const job = { id: 9, kind: 'snapshot.revert' as const, payload: { host: 'local', vm: 'web', name: 's1', vmUuid: '0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b', snapshot: { createdAt: 1_700_000_000, files: [] } }, requester: { id: '42', name: 'alice' }, requestId: 'req-0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b' };
    const approvedBody = approvalDecisionMessage(approval, job);
    const approved = approvedBody.embeds![0]!;
    // The buttons stay, disabled: nobody can click a decided request.
    assert.deepEqual(approvedBody.components, [{ type: 1, components: [
      { type: 2, custom_id: 'approve:9:req-0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b', label: 'Approve', style: 3, disabled: true },
      { type: 2, custom_id: 'reject:9:req-0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b', label: 'Reject', style: 4, disabled: true },
    ] }]);
    assert.equal(approved.title, 'Approved: job #9 Revert web to snapshot s1 (taken 2023-11-14 22:13 UTC) on local');
    assert.match(approved.description!, /Approved by <@43> <t:1700000000:f> \(<t:1700000000:R>\)\./);
    const expired = approvalDecisionMessage({ ...approval, state: 'expired', decidedBy: null, decidedAt: null }, job).embeds![0]!;
    assert.match(expired.title!, /^Expired/);
    assert.throws(() => approvalDecisionMessage({ ...approval, state: 'pending' }, job));
  });
});

describe('buttons, mentions, timestamps', () => {
  const REQ = 'req-0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b';
  const reply = { visibility: 'public' as const, title: 'Approval needed for job #9: Revert web', lines: [`Expires at ${moment(1_700_000_000_000)} (in 30m).`], tone: 'warning' as const, approvalJobId: 9, jobId: 9, requestId: REQ };

  it('the approval request: Approve / Reject, the approver roles mentioned, only they may ping', () => {
    const body = approvalRequestMessage(reply, 'approval-x', ['300000000000000004', '300000000000000005', 'not-a-role']);
    assert.equal(body.content, '<@&300000000000000004> <@&300000000000000005> approval needed for job #9');
    assert.deepEqual(body.allowed_mentions, { parse: [], roles: ['300000000000000004', '300000000000000005'] });
    assert.deepEqual((body.components?.[0] as { components: Array<{ custom_id: string; disabled: boolean }> }).components.map((b) => [b.custom_id, b.disabled]), [
      [`approve:9:${REQ}`, false],
      [`reject:9:${REQ}`, false],
    ]);
    assert.equal(body.embeds?.[0]?.description, 'Expires at <t:1700000000:f> (in 30m).');
    const quiet = approvalRequestMessage(reply, 'approval-x', []);
    assert.equal(quiet.content, undefined);
    assert.deepEqual(quiet.allowed_mentions, { parse: [] });
  });

  it('custom ids: job id and request id, at most 100 characters, anything else is not ours', () => {
    const id = buttonId('approve', { jobId: 123456789012345, requestId: REQ });
    assert.ok(id.length <= 100, `${id.length}`);
    assert.deepEqual(parseButtonId(id), { action: 'approve', jobId: 123456789012345, requestId: REQ });
    for (const bad of ['approve:9', 'delete:9:req-x', 'approve:x:req-x', `approve:9:${REQ}:extra`, 'approve:9:req x', `approve:9:${'a'.repeat(81)}`]) {
      assert.equal(parseButtonId(bad), null, bad);
    }
  });

  it('status message: Cancel while the job can still stop, no buttons once it ended', () => {
    const base = { jobId: 7, requestId: REQ, kind: 'deploy' as const, title: 'Deploy web', lines: [], requester: { id: '42', name: 'alice' }, updatedAt: 0 };
    for (const state of ['awaiting_approval', 'queued', 'running'] as const) {
      const body = statusMessage({ ...base, state });
      assert.deepEqual((body.components?.[0] as { components: Array<{ custom_id: string; label: string }> }).components.map((b) => [b.custom_id, b.label]), [[`cancel:7:${REQ}`, 'Cancel']], state);
    }
    for (const state of ['succeeded', 'failed', 'cancelled'] as const) assert.deepEqual(statusMessage({ ...base, state }).components, [], state);
  });

  it('moments: a Discord timestamp (each reader\'s time zone), UTC text in the shell and in code blocks', () => {
    const line = `requested by ${person({ id: '42', name: 'alice' })} at ${moment(Date.UTC(2025, 4, 1, 14, 32))}`;
    assert.equal(discordText(line), `requested by <@42> at <t:${Date.UTC(2025, 4, 1, 14, 32) / 1000}:f>`);
    assert.equal(withNames(line), 'requested by alice at 2025-05-01 14:32 UTC');
    const table = replyEmbed({ visibility: 'ephemeral', title: 't', lines: [`a  b  ${moment(Date.UTC(2025, 4, 1, 14, 32))}`], tone: 'info' });
    assert.match(table.description!, /2025-05-01 14:32 UTC/);
  });
});

describe('interaction parsing', () => {
  it('subcommand and flat options; the focused option', () => {
    assert.deepEqual(invocationOptions([{ name: 'create', type: 1, options: [{ name: 'vm', type: 3, value: 'web' }, { name: 'seal', type: 5, value: false }] }]), {
      subcommand: 'create',
      options: { vm: 'web', seal: false },
    });
    assert.deepEqual(invocationOptions([{ name: 'template', type: 3, value: 'ba', focused: true }, { name: 'count', type: 4, value: 3 }]), {
      subcommand: null,
      options: { template: 'ba', count: 3 },
      focused: { name: 'template', value: 'ba' },
    });
    // A user option (type 6) arrives as the member's id (the member itself is in `resolved`).
    assert.deepEqual(invocationOptions([{ name: 'user', type: 6, value: '123456789012345678' }, { name: 'since', type: 3, value: '7d' }]), {
      subcommand: null,
      options: { user: '123456789012345678', since: '7d' },
    });
  });

  it('member roles include @everyone (the guild id) on both member shapes', () => {
    assert.deepEqual(memberRoleIds({ roles: ['5'] }, '1'), ['5', '1']);
    assert.deepEqual(memberRoleIds(null, null), []);
  });
});

const apiError = (status: number, code: number) => new DiscordAPIError({ code, message: 'x' }, code, status, 'PATCH', '/x', { body: {} });

describe('REST errors and the sink', () => {
  it('403 / 404 / 400 are permanent; 5xx, 429 and network errors are retryable', () => {
    assert.ok(toSinkError(apiError(403, 50001), 'x') instanceof PermanentSinkError);
    assert.ok(toSinkError(apiError(404, 10003), 'x') instanceof PermanentSinkError);
    for (const e of [new HTTPError(500, 'Internal', 'POST', '/x', { body: {} }), apiError(429, 0), new Error('ECONNREFUSED')]) {
      const s = toSinkError(e, 'x');
      assert.ok(s instanceof RetryableSinkError);
      assert.equal(isPermanentSinkError(s), false);
    }
  });

  function fakeApi(editError?: unknown) {
    const calls: string[] = [];
    const api = {
      send: async (_c: string, body: { nonce?: string }) => {
        calls.push(`send ${body.nonce ?? ''}`);
        return { id: 'new' };
      },
      edit: async (_c: string, id: string) => {
        calls.push(`edit ${id}`);
        if (editError) throw editError;
        return { id };
      },
    } as unknown as ChannelApi;
    return { api, calls };
  }
  const target = { adapter: 'discord', guildId: '1', channelId: '2' };

  it('creates, then edits the status message', async () => {
    const { api, calls } = fakeApi();
    const sink = new DiscordSink(api);
    assert.equal(await sink.upsertStatus(target, null, view()), 'new');
    assert.equal(await sink.upsertStatus(target, 'old', view()), 'old');
    assert.deepEqual(calls, [`send ${nonceFor('status', view().requestId)}`, 'edit old']);
  });

  for (const code of [30046, 10008]) {
    it(`edit refused with ${code}: posts a fresh status message and returns its id`, async () => {
      const { api, calls } = fakeApi(apiError(code === 30046 ? 400 : 404, code));
      const sink = new DiscordSink(api, { now: () => 36 ** 3 });
      assert.equal(await sink.upsertStatus(target, 'old', view()), 'new');
      assert.deepEqual(calls, ['edit old', `send ${nonceFor('st', `${view().requestId}-1000`)}`]);
    });
  }

  it('an edit failing with 500 is retryable, with 403 permanent', async () => {
    await assert.rejects(new DiscordSink(fakeApi(new HTTPError(502, 'Bad Gateway', 'PATCH', '/x', { body: {} })).api).upsertStatus(target, 'old', view()), RetryableSinkError);
    await assert.rejects(new DiscordSink(fakeApi(apiError(403, 50013)).api).upsertStatus(target, 'old', view()), PermanentSinkError);
  });
});
