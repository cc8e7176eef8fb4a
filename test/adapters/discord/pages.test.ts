import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageButtonId, pageButtons, parsePageId, replyMessage, LIMITS } from '../../../src/adapters/discord/render.js';
import { vmPageLines } from '../../../src/chat/format.js';
import type { Reply } from '../../../src/chat/types.js';

/**
 * Page buttons (Reply.page → Previous / Next) within Discord's limits: custom ids of at most 100
 * characters that carry the whole invocation (nothing in memory), a page of 50 VMs with the
 * longest names and states uncut in one embed.
 */

const reply = (page: Reply['page']): Reply => ({ visibility: 'ephemeral', title: 'VMs on local', lines: ['x'], tone: 'info', ...(page ? { page } : {}) });
const inv = (options: Record<string, unknown> = {}) => ({ command: 'vm', subcommand: 'list', options });
type Row = { components: Array<{ custom_id: string; label: string; disabled: boolean }> };

describe('page buttons', () => {
  it('none when the list fits in one page', () => {
    assert.deepEqual(pageButtons(reply({ offset: 0, limit: 50, total: 50 }), inv()), []);
    assert.deepEqual(pageButtons(reply(undefined), inv()), []);
  });

  it('Previous disabled on the first page, Next on the last; each id runs the same read from its page', () => {
    const [first] = pageButtons(reply({ offset: 0, limit: 50, total: 120 }), inv({ filter: 'web-*', host: undefined })) as unknown as Row[];
    assert.deepEqual(first!.components.map((b) => [b.label, b.disabled]), [['Previous', true], ['Next', false]]);
    assert.deepEqual(parsePageId(first!.components[1]!.custom_id), { offset: 50, command: 'vm', subcommand: 'list', options: { filter: 'web-*' } });
    const [last] = pageButtons(reply({ offset: 100, limit: 50, total: 120 }), inv({ filter: 'db-0?', host: 'local' })) as unknown as Row[];
    assert.deepEqual(last!.components.map((b) => [b.label, b.disabled]), [['Previous', false], ['Next', true]]);
    assert.deepEqual(parsePageId(last!.components[0]!.custom_id), { offset: 50, command: 'vm', subcommand: 'list', options: { filter: 'db-0?', host: 'local' } });
  });

  it('ids stay within 100 characters; an invocation that does not fit (or an option that is not text, boolean or integer) gets no buttons', () => {
    const fits = pageButtons(reply({ offset: 0, limit: 50, total: 3000 }), inv({ filter: 'f'.repeat(63) })) as unknown as Row[];
    for (const b of fits[0]!.components) assert.ok(b.custom_id.length <= 100, b.custom_id);
    assert.deepEqual(pageButtons(reply({ offset: 0, limit: 50, total: 3000 }), inv({ filter: 'f'.repeat(63), host: 'h'.repeat(63) })), []);
    assert.deepEqual(pageButtons(reply({ offset: 0, limit: 50, total: 3000 }), inv({ tags: ['a'] })), []);
    assert.deepEqual(pageButtons(reply({ offset: 0, limit: 50, total: 3000 }), inv({ ratio: 0.5 })), []);
    assert.equal(pageButtonId({ command: 'vm', subcommand: 'list', options: { host: 'h'.repeat(90) }, offset: 0 }), null);
  });

  it('booleans and integers come back as they went (a click runs /job list mine:true, not mine:"true")', () => {
    const [row] = pageButtons(reply({ offset: 0, limit: 20, total: 90 }), { command: 'job', subcommand: 'list', options: { mine: true, state: 'failed', since: 7, all: false } }) as unknown as Row[];
    assert.deepEqual(parsePageId(row!.components[1]!.custom_id), { offset: 20, command: 'job', subcommand: 'list', options: { mine: true, state: 'failed', since: 7, all: false } });
    // a text option that looks like a typed one stays text
    const id = pageButtonId({ command: 'vm', subcommand: 'list', options: { filter: '1' }, offset: 0 })!;
    assert.deepEqual(parsePageId(id)!.options, { filter: '1' });
  });

  it('a forged or foreign id is no page', () => {
    for (const id of [
      'page:x:vm:list:',
      'page:1:VM:list:',
      'page:1:vm:list:a=1&a=2',
      'page:1:vm:list:a=1&a!b=1',
      'page:1:job:list:mine!b=2',
      'page:1:job:list:mine!b=true',
      'page:1:job:list:n!n=1e3',
      'page:1:job:list:x!z=1',
      'page:1:job:list:X=1',
      'approve:1:abc',
      'page:1234567890:vm:list:',
    ]) {
      assert.equal(parsePageId(id), null, id);
    }
  });

  it('50 VMs with 63-character names and the longest state fit one embed uncut, "showing" line included', () => {
    const vms = Array.from({ length: 50 }, (_, i) => ({ name: `${String(i).padStart(2, '0')}${'n'.repeat(61)}`, state: 'in shutdown' as const }));
    const lines = ['inventory: importing 1,200 / 3,000 — VMs not read yet are missing here', ...vmPageLines(vms, { offset: 2950, total: 3000 })];
    const body = replyMessage({ ...reply({ offset: 2950, limit: 50, total: 3000 }), lines });
    const description = body.embeds[0]!.description!;
    assert.ok([...description].length <= LIMITS.embedDescription);
    assert.match(description, /showing 2,951–3,000 of 3,000/);
    for (const v of vms) assert.ok(description.includes(v.name), v.name);
  });
});
