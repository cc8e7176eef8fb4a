import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { catArgs, chmodArgs, cpArgs, ddArgs, lnArgs, rmArgs, sha256sumArgs, statArgs, syncArgs, testArgs } from '../../src/hypervisor/coreutils-args.js';
import { argvCases } from '../helpers/argv.js';

describe('cp argv', () => {
  // `--`: a path that starts with `-` is a path
  argvCases(cpArgs, { sparse: [[cpArgs.sparse('-a', '/v/b'), ['--sparse=always', '--', '-a', '/v/b']]] });
});

describe('sync argv', () => {
  argvCases(syncArgs, { file: [[syncArgs.file('/v/b'), ['--', '/v/b']]] });
});

describe('chmod argv', () => {
  argvCases(chmodArgs, { mode: [[chmodArgs.mode('0444', ['-v', '/v/a b']), ['0444', '--', '-v', '/v/a b']]] });
});

describe('cat argv', () => {
  argvCases(catArgs, { file: [[catArgs.file('-n'), ['--', '-n']]] });
});

describe('test argv', () => {
  argvCases(testArgs, { exists: [[testArgs.exists('/a b/-e'), ['-e', '/a b/-e']]] });
  it('refuses a relative path (test has no `--`)', () => {
    assert.throws(() => testArgs.exists('-n'), /absolute/);
  });
});

describe('template travel argv (cat, dd, sha256sum, stat, ln, rm)', () => {
  argvCases(ddArgs, { intoNewFile: [[ddArgs.intoNewFile('/v/-a b'), ['of=/v/-a b', 'bs=4M', 'iflag=fullblock', 'conv=excl,fsync', 'status=none']]] });
  argvCases(sha256sumArgs, { files: [[sha256sumArgs.files(['-c', '/v/b']), ['-b', '--', '-c', '/v/b']]] });
  argvCases(statArgs, { sizes: [[statArgs.sizes(['-L']), ['-c', '%s', '--', '-L']]] });
  argvCases(lnArgs, { hard: [[lnArgs.hard('-f', '/v/b'), ['-T', '--', '-f', '/v/b']]] });
  argvCases(rmArgs, { files: [[rmArgs.files(['-r', '/']), ['-f', '--', '-r', '/']]] });
});
