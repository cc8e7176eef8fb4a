import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scriptArgs as b } from '../../src/hypervisor/scripts-args.js';
import { parseLabEnv } from '../../src/hypervisor/scripts.js';
import { SSH, sshArgs } from '../../src/hypervisor/ssh-args.js';
import { sshKeygenArgs as k } from '../../src/hypervisor/ssh-keygen-args.js';
import { argvCases } from '../helpers/argv.js';

describe('bash argv (the repository scripts)', () => {
  const ssh = sshArgs.exec({ host: '198.19.1.5', user: 'debian', keyfile: '/k', noVerify: false }, 'hostname', []);
  argvCases(b, {
    guestImage: [[b.guestImage('/r/scripts/guest-image.sh'), ['/r/scripts/guest-image.sh']]],
    labUp: [
      [b.labUp('/r/l.sh', 'kvdemo', { guestNet: true }), ['/r/l.sh', 'up', 'kvdemo', '--guest-net']],
      [b.labUp('/r/l.sh', 'kvdemo', { guestNet: false }), ['/r/l.sh', 'up', 'kvdemo']],
    ],
    labDown: [[b.labDown('/r/l.sh', 'kvdemo'), ['/r/l.sh', 'down', 'kvdemo']]],
    // the program's own argv follows as it is (lab-host.sh runs it with nsenter, no shell)
    labExec: [[b.labExec('/r/l.sh', 'kvdemo', SSH, ssh), ['/r/l.sh', 'exec', 'kvdemo', 'ssh', ...ssh]]],
  });
  it('a lab name lab-host.sh takes, and nothing else (it names network interfaces)', () => {
    for (const bad of ['', 'kvmops-demo', '-x', 'A', 'a b', 'a/b']) assert.throws(() => b.labDown('/r/l.sh', bad), /lab name/, bad);
  });
});

describe('ssh-keygen argv', () => {
  argvCases(k, { newKey: [[k.newKey('/l/demo_key', 'alice@demo'), ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@demo', '-f', '/l/demo_key']]] });
});

describe("lab-host.sh's env lines", () => {
  it('LAB_X=\'v\' lines, the URI with its & and = whole; other lines ignored', () => {
    const env = parseLabEnv("lab-host: up\nLAB_URI='qemu+ssh://root@198.18.1.2/system?keyfile=/k&no_verify=1'\nLAB_GUEST_NET='kvmops-lab'\nnoise\n");
    assert.deepEqual(env, { LAB_URI: 'qemu+ssh://root@198.18.1.2/system?keyfile=/k&no_verify=1', LAB_GUEST_NET: 'kvmops-lab' });
  });
});
