import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { COMMAND_MODULES, loadCommands } from '../../../commands/index.js';
import { commandsJson } from '../../../src/adapters/discord/registration.js';
import { validateCommand } from '../../discord-emulator/validate.js';

/**
 * The slash-command registration body, pinned byte for byte: what `npm run register` and the
 * bot's start-up PUT to Discord (discord.js sends `JSON.stringify(body)`, so key order counts).
 * A change to it changes what every guild sees; make it on purpose, then rewrite the fixture:
 * KVMOPS_WRITE_FIXTURES=1 node --import tsx --test test/unit/chat/registration-pin.test.ts
 */

const FIXTURE = new URL('./fixtures/registration.json', import.meta.url);

describe('registration JSON', () => {
  it('is byte for byte the pinned body of every command', () => {
    const body = `${JSON.stringify(commandsJson(loadCommands(COMMAND_MODULES).map((m) => m.def)), null, 2)}\n`;
    if (process.env.KVMOPS_WRITE_FIXTURES === '1') writeFileSync(FIXTURE, body);
    assert.equal(body, readFileSync(FIXTURE, 'utf8'));
  });

  it('is what Discord accepts: the emulator checks each command as its bulk overwrite does (/schedule included)', () => {
    const commands = commandsJson(loadCommands(COMMAND_MODULES).map((m) => m.def));
    assert.ok(commands.some((c) => c.name === 'schedule'));
    commands.forEach((c, i) => assert.doesNotThrow(() => validateCommand(JSON.parse(JSON.stringify(c)), i), c.name));
  });
});
