/**
 * Who runs external programs, read from the source: only the hypervisor's program runners, one
 * per program, each with its builder module's argv (the types check the argv itself:
 * tool-args.ts). Guards the layering rule (docs/architecture.md: only the hypervisor runs programs; the
 * demo kit uses the hypervisor) and "virsh called one way".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sourceFiles } from '../helpers/sources.js';

const files = sourceFiles();
const where = (re: RegExp) => files.filter(({ text }) => re.test(text)).map(({ f }) => f);

/** Runner → the programs it starts (the first argument of each `run(` call; a builder's `xArgs.run(` is not one). */
const RUNNERS: Record<string, string[]> = {
  'src/hypervisor/disk-copy.ts': ['CP', 'SYNC'],
  'src/hypervisor/multi.ts': ['VIRSH'],
  'src/hypervisor/qemu-img.ts': ['QEMU_IMG'],
  'src/hypervisor/qemu-io.ts': ['QEMU_IO'],
  'src/hypervisor/remote-exec.ts': ['SSH'],
  'src/hypervisor/scripts.ts': ['BASH'],
  'src/hypervisor/seed.ts': ['XORRISO'],
  'src/hypervisor/sysprep.ts': ['setup.program'],
  'src/hypervisor/template-copy.ts': ['SHA256SUM', 'STAT'],
};

describe('program runners', () => {
  it('only the runners import run(), and each starts only its own programs', () => {
    assert.deepEqual(where(/import \{[^}]*\brun\b[^}]*\} from '[./]*exec\.js'/), Object.keys(RUNNERS));
    for (const [f, programs] of Object.entries(RUNNERS)) {
      const text = files.find((x) => x.f === f)!.text;
      const started = [...new Set([...text.matchAll(/(?<![\w.])run\(\s*([\w.]+)\s*,/g)].map((m) => m[1]!))].sort();
      assert.deepEqual(started, [...programs].sort(), f);
    }
  });

  it('only exec.ts starts processes — and file-stream.ts its two piped ssh ends, the same way (setpriv, argv from ssh-args)', () => {
    assert.deepEqual(where(/from '(execa|node:child_process|child_process)'/), ['src/hypervisor/exec.ts', 'src/hypervisor/file-stream.ts']);
    const stream = files.find((x) => x.f === 'src/hypervisor/file-stream.ts')!.text;
    assert.deepEqual([...new Set([...stream.matchAll(/execa\(\s*([\w.]+)\s*,/g)].map((m) => m[1]!))].sort(), ['SETPRIV', 'SSH']);
  });

  it('argv builders live in the builder modules only (src/hypervisor/*-args.ts)', () => {
    const makers = where(/\btoolBuilders\(/);
    assert.ok(makers.length >= 6);
    for (const f of makers) assert.match(f, /^src\/hypervisor\/[a-z-]+-args\.ts$/);
  });
});
