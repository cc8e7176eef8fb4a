import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { envArgs } from '../../src/hypervisor/env-args.js';
import { sysprepArgs } from '../../src/hypervisor/sysprep-args.js';
import { argvCases } from '../helpers/argv.js';

describe('env argv', () => {
  argvCases(envArgs, {
    run: [
      [envArgs.run({}, 'virt-sysprep', sysprepArgs.version()), ['--', 'virt-sysprep', '--version']],
      // a value is a plain word: spaces, `=`, `$` and quotes stay as they are
      [
        envArgs.run({ SUPERMIN_KERNEL: '/k/vmlinuz 6', X: 'a=b $(id) \'q\'' }, 'virt-sysprep', sysprepArgs.version()),
        ['--', 'SUPERMIN_KERNEL=/k/vmlinuz 6', "X=a=b $(id) 'q'", 'virt-sysprep', '--version'],
      ],
    ],
  });

  it('refuses a variable name env would read otherwise, and a program with `=`', () => {
    for (const bad of ['', '-i', 'A=B', 'A B', '1A']) {
      assert.throws(() => envArgs.run({ [bad]: 'x' }, 'virt-sysprep', sysprepArgs.version()), /variable name/, bad);
    }
    assert.throws(() => envArgs.run({}, 'A=B' as 'virt-sysprep', sysprepArgs.version()), /program/);
  });

  it('the real env runs the program with exactly those values', () => {
    const vars = { KV_A: 'a b=c', KV_B: "$(echo no) 'x'" };
    const args = envArgs.run(vars, 'printenv' as 'virt-sysprep', ['KV_A', 'KV_B'] as unknown as ReturnType<typeof sysprepArgs.version>);
    const r = spawnSync('env', [...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${vars.KV_A}\n${vars.KV_B}\n`);
  });
});
