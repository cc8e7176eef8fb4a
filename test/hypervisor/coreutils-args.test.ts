import { describe } from 'node:test';
import { chmodArgs, cpArgs, syncArgs } from '../../src/hypervisor/coreutils-args.js';
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
