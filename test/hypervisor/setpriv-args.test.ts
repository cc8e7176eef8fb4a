import { describe } from 'node:test';
import { setprivArgs as s } from '../../src/hypervisor/setpriv-args.js';
import { argvCases } from '../helpers/argv.js';

describe('setpriv argv', () => {
  argvCases(s, {
    // the program's own argv follows `--` untouched
    dieWithParent: [[s.dieWithParent('cp', ['--sparse=always', '--', '/a', '/b']), ['--pdeathsig', 'KILL', '--', 'cp', '--sparse=always', '--', '/a', '/b']]],
  });
});
