import { describe } from 'node:test';
import { qemuImgArgs as q } from '../../src/hypervisor/qemu-img-args.js';
import { argvCases } from '../helpers/argv.js';

describe('qemu-img argv', () => {
  argvCases(q, {
    // the declared format is given, not probed
    infoChain: [
      [q.infoChain('/v/a.qcow2', 'qcow2'), ['info', '-U', '-f', 'qcow2', '--backing-chain', '--output=json', '/v/a.qcow2']],
      [q.infoChain('/v/a.qcow2'), ['info', '-U', '--backing-chain', '--output=json', '/v/a.qcow2']],
    ],
    create: [[q.create('/v/g.qcow2', 67108864), ['create', '-q', '-f', 'qcow2', '/v/g.qcow2', '67108864']]],
    snapshotList: [[q.snapshotList('/v/a.qcow2'), ['snapshot', '-l', '/v/a.qcow2']]],
    snapshotApply: [[q.snapshotApply('/v/a.qcow2', 's1'), ['snapshot', '-q', '-a', 's1', '/v/a.qcow2']]],
    snapshotDelete: [[q.snapshotDelete('/v/a.qcow2', 's1'), ['snapshot', '-q', '-d', 's1', '/v/a.qcow2']]],
    commit: [[q.commit('/v/o.qcow2'), ['commit', '-q', '-d', '/v/o.qcow2']]],
    convertSnapshot: [
      [q.convertSnapshot('/v/a.qcow2', 's1', '/v/n.qcow2'), ['convert', '-q', '-O', 'qcow2', '-l', 'snapshot.name=s1', '/v/a.qcow2', '/v/n.qcow2']],
      [
        q.convertSnapshot('/v/a.qcow2', 's1', '/v/n.qcow2', { file: '/v/b.qcow2', format: 'raw' }),
        ['convert', '-q', '-O', 'qcow2', '-l', 'snapshot.name=s1', '-B', '/v/b.qcow2', '-F', 'raw', '/v/a.qcow2', '/v/n.qcow2'],
      ],
    ],
    convertFlat: [[q.convertFlat('/a', 'qcow2', '/b'), ['convert', '-p', '-f', 'qcow2', '-O', 'qcow2', '-o', 'compat=1.1', '/a', '/b']]],
    // QEMU ≥ 6.1 needs the backing format
    createOverlay: [
      [q.createOverlay('/o', '/b'), ['create', '-q', '-f', 'qcow2', '-b', '/b', '-F', 'qcow2', '/o']],
      [q.createOverlay('/o', '/b', 'raw'), ['create', '-q', '-f', 'qcow2', '-b', '/b', '-F', 'raw', '/o']],
    ],
  });
});
