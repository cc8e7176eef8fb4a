import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeBlock, cutMarkdown, escapeMarkdown } from '../../../src/adapters/discord/markdown.js';
import {
  LIMITS,
  NO_MENTIONS,
  autocompleteChoices,
  endMessage,
  fitEmbed,
  mention,
  nonceFor,
  replyMessage,
  statusEmbed,
} from '../../../src/adapters/discord/render.js';
import { person } from '../../../src/chat/people.js';
import { codePointLength } from '../../../src/domain/text.js';
import type { StatusView } from '../../../src/notifier/types.js';

/**
 * Text that reaches Discord: user-supplied text escaped so no markup forms, people as mentions,
 * every part within Discord's limits and valid Unicode.
 */

/** What Discord shows for escaped text: a backslash before punctuation is hidden. */
const shown = (s: string) => s.replace(/\\([^0-9A-Za-z\s])/g, '$1');
/** Characters of `s` not preceded by an escaping backslash. */
function bare(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i += 1) {
    if (s[i] === '\\' && i + 1 < s.length && /[^0-9A-Za-z\s]/.test(s[i + 1]!)) {
      i += 1;
      continue;
    }
    out += s[i];
  }
  return out;
}
const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

const NASTY = [
  '[click me](https://evil.example/login)',
  '[x](<https://evil.example>)',
  'see https://evil.example and <https://evil.example>',
  '@everyone @here ping',
  '<@123456789012345678> <@&98765> <#1234> <t:1700000000:R> </deploy:1> <:pepe:12345>',
  '# Huge header',
  '## smaller\n### smaller still',
  '-# subtext',
  '- list item\n+ plus item\n* star item',
  '1. first\n  2. second',
  '> quote\n>>> block quote',
  '||spoiler|| **bold** *it* __under__ ~~strike~~ `code` ```block```',
  'a\\*b back\\slash',
  'two\nlines # not a header here',
  'web_01_test',
];

describe('escapeMarkdown', () => {
  it('shows user text exactly as typed', () => {
    for (const s of NASTY) assert.equal(shown(escapeMarkdown(s)), s, s);
  });

  it('leaves no markup able to form: links, masked links, mentions, headers, lists, quotes, spoilers, code, emphasis', () => {
    for (const s of NASTY) {
      const b = bare(escapeMarkdown(s));
      assert.doesNotMatch(b, /[[\]<>@*_~`|\\]/, `${s} → ${escapeMarkdown(s)}`);
      assert.doesNotMatch(b, /:\/\//, 'no URL scheme left to autolink');
      assert.doesNotMatch(b, /^[ \t]*(#{1,3}|-#?|\+|\d+\.)[ \t]/m, 'no block markup at a line start');
    }
    assert.equal(escapeMarkdown('[x](https://e.com)'), '\\[x\\](https\\://e.com)');
    assert.equal(escapeMarkdown('@everyone'), '\\@everyone');
    assert.equal(escapeMarkdown('# title\n1. item'), '\\# title\n1\\. item');
  });

  it('leaves our own ordinary text readable: no escapes where nothing could form', () => {
    assert.equal(escapeMarkdown('Refused (invalid-input): job #12 on local'), 'Refused (invalid-input): job #12 on local');
    assert.equal(escapeMarkdown('#7 Deploy web (thin)'), '#7 Deploy web (thin)');
  });

  it('shows control characters as escapes (no ANSI, no bidi override) and keeps newlines', () => {
    assert.equal(escapeMarkdown('a\x1b[31mb'), 'a\\\\x1b\\[31mb');
    assert.equal(shown(escapeMarkdown('x\u202ey\nz')), '\\u202ey\nz'.replace(/^/, 'x'));
  });
});

describe('code blocks and cutting', () => {
  it('a code block cannot be closed from inside', () => {
    const block = codeBlock(['VM   STATE', 'evil ``` **bold** <@1>']);
    assert.equal(block.match(/```/g)?.length, 2, block);
    assert.ok(block.startsWith('```\n') && block.endsWith('\n```'));
  });

  it('cutMarkdown keeps the fence, never splits a surrogate pair, never leaves a dangling escape', () => {
    const block = codeBlock(Array.from({ length: 400 }, (_, i) => `row ${i}  🚀🚀🚀  value`));
    const c = cutMarkdown(block, 1000);
    assert.ok(codePointLength(c) <= 1000);
    assert.ok(c.endsWith('\n```') && c.startsWith('```\n'));
    assert.ok(wellFormed(c));
    const escaped = escapeMarkdown('*'.repeat(50));
    for (let max = 2; max < 40; max += 1) {
      const e = cutMarkdown(escaped, max);
      assert.doesNotMatch(e, /(^|[^\\])(\\\\)*\\…$/, `no escaped ellipsis at ${max}: ${e}`);
      assert.ok(codePointLength(e) <= max);
    }
  });
});

const view = (over: Partial<StatusView> = {}): StatusView => ({
  jobId: 7,
  requestId: 'req-7',
  kind: 'deploy',
  state: 'failed',
  title: 'Deploy web (thin) from base on local',
  lines: [],
  requester: { id: '200000000000000001', name: '@everyone [admin](https://evil.example)' },
  updatedAt: 1_700_000_000_000,
  ...over,
});

describe('Discord limits', () => {
  it('fitEmbed: every part within its limit and the whole within 6000, on code points', () => {
    const huge = '🚀é'.repeat(5000);
    const e = fitEmbed({
      title: huge,
      description: huge,
      footer: { text: huge },
      author: { name: huge },
      fields: Array.from({ length: 30 }, () => ({ name: huge, value: huge })),
    });
    assert.ok(codePointLength(e.title!) <= LIMITS.embedTitle);
    assert.ok(codePointLength(e.footer!.text) <= LIMITS.footer);
    assert.ok(codePointLength(e.author!.name) <= LIMITS.authorName);
    assert.equal(e.fields!.length, LIMITS.fields);
    for (const f of e.fields!) {
      assert.ok(codePointLength(f.name) <= LIMITS.fieldName && codePointLength(f.value) <= LIMITS.fieldValue);
      assert.ok(f.value.length > 0);
    }
    const total = [e.title, e.description, e.footer!.text, e.author!.name, ...e.fields!.flatMap((f) => [f.name, f.value])]
      .filter((x): x is string => x !== undefined)
      .reduce((n, s) => n + codePointLength(s), 0);
    assert.ok(total <= LIMITS.embedTotal, `total ${total}`);
    for (const s of [e.title!, e.description ?? '', ...e.fields!.map((f) => f.value)]) assert.ok(wellFormed(s));
    assert.equal(fitEmbed({ fields: [{ name: '', value: '' }] }).fields![0]!.value, '—', 'Discord refuses empty field values');
  });

  it('a status embed with an endless error message stays within the limits', () => {
    const e = statusEmbed(view({ error: { code: 'command-failed', message: '💥'.repeat(3000) } }));
    const err = e.fields!.find((f) => f.name === 'Error')!;
    assert.ok(codePointLength(err.value) <= LIMITS.fieldValue);
    assert.ok(wellFormed(err.value));
  });

  it('the completion message: content within 2000 code points, valid Unicode', () => {
    const m = endMessage(view({ error: { code: 'command-failed', message: '🚀'.repeat(2500) } }));
    assert.ok(codePointLength(m.content!) <= LIMITS.content);
    assert.ok(wellFormed(m.content!));
  });

  it('autocomplete: choices over 100 characters are dropped, not cut; 25 at most', () => {
    const ok = { name: 'web-01', value: 'web-01' };
    const long = 'v'.repeat(101);
    assert.deepEqual(autocompleteChoices([ok, { name: long, value: 'x' }, { name: 'x', value: long }, { name: '', value: 'e' }]), [ok]);
    const emoji = '🚀'.repeat(100); // 100 characters, 200 UTF-16 units: Discord accepts it
    assert.deepEqual(autocompleteChoices([{ name: emoji, value: emoji }]), [{ name: emoji, value: emoji }]);
    assert.equal(autocompleteChoices(Array.from({ length: 40 }, (_, i) => ({ name: `n${i}`, value: `n${i}` }))).length, 25);
  });

  it('nonces: at most 25 characters, stable, distinct per kind', () => {
    assert.equal(nonceFor('approval', 12), 'approval-12');
    assert.equal(nonceFor('reply', '1234567890123456789'), 'reply-1234567890123456789');
    const long = nonceFor('reply', '123456789012345678901234567890');
    assert.ok(long.length <= 25 && long.startsWith('reply-'));
    assert.equal(long, nonceFor('reply', '123456789012345678901234567890'));
    assert.notEqual(nonceFor('approval', 5), nonceFor('status', 5));
  });
});

describe('people', () => {
  it('the requester of an approval request is a mention that pings nobody, never the display name', () => {
    const requester = { id: '200000000000000001', name: '@everyone [admin](https://evil.example)' };
    const body = replyMessage({
      visibility: 'public',
      title: 'Approval needed for job #3: revert web to snapshot s1 on local',
      lines: [`Requested by ${person(requester)}.`, 'An approver reacts ✅'],
      tone: 'warning',
      approvalJobId: 3,
    });
    assert.deepEqual(body.allowed_mentions, NO_MENTIONS);
    assert.deepEqual(body.allowed_mentions, { parse: [] });
    const description = body.embeds[0]!.description!;
    assert.match(description, /^Requested by <@200000000000000001>\.$/m);
    assert.doesNotMatch(description, /admin|evil|everyone/, 'the display name is not shown');
    assert.doesNotMatch(description, /[\u0000-\u0009\u000b-\u001f]/, 'no marker left');
  });

  it('mention: a snowflake becomes <@id>; anything else is shown as escaped text', () => {
    assert.equal(mention('200000000000000001'), '<@200000000000000001>');
    assert.equal(mention('alice'), '\\@alice');
  });
});

describe('a crowded channel: the summary message and a grouped mention', () => {
  const requester = { id: '200000000000000001', name: 'alice' };
  const base: StatusView = {
    jobId: 4,
    requestId: 'r4',
    kind: 'vm.stop',
    state: 'running',
    title: 'Channel summary: 1 running, 149 queued',
    lines: ['150 jobs in this channel\'s summary: 1 running, 149 queued', '#4 Stop web_1 on local: running'],
    requester,
    updatedAt: 1_765_000_000_000,
    summary: { jobIds: Array.from({ length: 150 }, (_, i) => i + 4), ended: 0 },
  };

  it('the summary: its lines as the description, no per-job field, no Cancel button', async () => {
    const { statusMessage } = await import('../../../src/adapters/discord/render.js');
    const body = statusMessage(base);
    const embed = body.embeds![0]!;
    assert.deepEqual(body.components, [], 'no Cancel: it would stop one job of many');
    assert.equal(embed.fields, undefined);
    assert.match(embed.description!, /#4 Stop web\\_1 on local: running/, 'user text escaped');
    assert.equal(embed.footer?.text, 'channel summary · 150 jobs · 0 ended');
  });

  it('a grouped mention pings its requester once and names every job, within 2000 characters for 150 jobs', () => {
    const group = Array.from({ length: 150 }, (_, i) => ({
      jobId: 100_000 + i,
      state: (i === 7 ? 'failed' : 'succeeded') as StatusView['state'],
      title: `Stop web-${i} on local`,
      ...(i === 7 ? { error: { code: 'vm-not-found', message: 'gone' } } : {}),
    }));
    const body = endMessage({ ...base, jobId: 100_000, requestId: 'r100000', state: 'failed', title: '150 jobs', summary: undefined, group });
    assert.ok(codePointLength(body.content!) <= LIMITS.content, `${codePointLength(body.content!)} characters`);
    assert.deepEqual(body.allowed_mentions, { parse: [], users: [requester.id] });
    assert.equal(body.content!.split(mention(requester.id)).length - 1, 1, 'one mention');
    for (const j of group) assert.ok(body.content!.includes(`#${j.jobId}`), `names #${j.jobId}`);
    assert.match(body.content!, /^❌ .* 150 of your jobs ended — 1 failed: #100007 \(vm-not-found\); 149 succeeded: #100000, /);
    assert.equal(body.nonce, nonceFor('end', 'r100000'));
  });
});
