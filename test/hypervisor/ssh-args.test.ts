/**
 * The ssh transport's argv: exact, and its remote command quoted by construction — a POSIX
 * shell (sh and bash, as the remote user's login shell reads it) gets back exactly the words
 * given, whatever they hold.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { qemuImgArgs } from '../../src/hypervisor/qemu-img-args.js';
import { shellQuote, sshArgs, sshTargetOfUri } from '../../src/hypervisor/ssh-args.js';
import { argvCases } from '../helpers/argv.js';

const LAB = 'qemu+ssh://root@198.18.3.2/system?keyfile=/var/lib/kvmops-lab/t1/ssh/id_ed25519&no_verify=1&no_tty=1';

describe('ssh argv', () => {
  const t = sshTargetOfUri(LAB);
  argvCases(sshArgs, {
    exec: [
      [
        sshArgs.exec(t, 'qemu-img', qemuImgArgs.infoChain('/srv/a b.qcow2', 'qcow2')),
        [
          '-T', '-e', 'none', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
          '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
          '-i', '/var/lib/kvmops-lab/t1/ssh/id_ed25519', '-o', 'IdentitiesOnly=yes',
          '-l', 'root', '--', '198.18.3.2',
          `'qemu-img' 'info' '-U' '-f' 'qcow2' '--backing-chain' '--output=json' '/srv/a b.qcow2'`,
        ],
      ],
      // no user, a port, host keys checked: only what the URI says
      [
        sshArgs.exec(sshTargetOfUri('qemu+ssh://kvm1.example.org:2222/system'), 'true', []),
        ['-T', '-e', 'none', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-p', '2222', '--', 'kvm1.example.org', `'true'`],
      ],
    ],
  });
});

describe('the remote command string', () => {
  const hostile = [
    'plain',
    'with space',
    "it's",
    "''",
    '$(touch /tmp/kvmops-pwned)',
    '`touch /tmp/kvmops-pwned`',
    '; rm -rf /tmp/kvmops-nothing',
    'a\nb\n',
    '\\',
    '"double"',
    '*',
    '~root',
    '-rf',
    '$HOME',
    '${IFS}',
    '|&<>#',
    '',
    'ü ✓',
  ];

  for (const shell of ['sh', 'bash']) {
    it(`${shell} reads back exactly the words given, hostile ones included`, () => {
      const words = ['printf', '%s\\0', ...hostile];
      const cmd = words.map(shellQuote).join(' ');
      const r = spawnSync(shell, ['-c', cmd], { encoding: 'utf8', cwd: '/' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.split('\0').slice(0, -1), hostile);
    });
  }

  it('the builder quotes every word: the last argv element is that string', () => {
    const argv = sshArgs.exec(sshTargetOfUri(LAB), 'printf', ['%s\\0', ...hostile]);
    const r = spawnSync('sh', ['-c', argv.at(-1)!], { encoding: 'utf8', cwd: '/' });
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), hostile);
  });

  it('a NUL cannot be carried and is refused', () => {
    assert.throws(() => shellQuote('a\0b'), (e) => isKvmopsError(e, 'invalid-input'));
  });
});

describe('sshTargetOfUri', () => {
  it('reads user, host, port, keyfile and no_verify from a qemu+ssh URI', () => {
    assert.deepEqual(sshTargetOfUri(LAB), { host: '198.18.3.2', user: 'root', keyfile: '/var/lib/kvmops-lab/t1/ssh/id_ed25519', noVerify: true });
    assert.deepEqual(sshTargetOfUri('qemu+ssh://ops@[fd00::2]:2022/system'), { host: 'fd00::2', user: 'ops', port: 2022, noVerify: false });
    assert.deepEqual(sshTargetOfUri('qemu+ssh://h/system?keyfile=/k%20ey'), { host: 'h', keyfile: '/k ey', noVerify: false });
  });

  it('refuses other transports, and hosts, users or keys that could read as something else', () => {
    for (const [uri, code] of [
      ['qemu:///system', 'unsupported'],
      ['qemu+tcp://h/system', 'unsupported'],
      ['qemu+ssh://-oProxyCommand=x/system', 'invalid-input'],
      ['qemu+ssh://-lroot@h/system', 'invalid-input'],
      ['qemu+ssh://h/system?keyfile=relative/key', 'invalid-input'],
      ['not a uri', 'invalid-input'],
    ] as const) {
      assert.throws(() => sshTargetOfUri(uri), (e) => isKvmopsError(e, code), uri);
    }
  });
});
