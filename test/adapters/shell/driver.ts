import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDisk, defineVm, makeTestEnv, writePattern, type LibvirtTestEnv } from '../../helpers/libvirt.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The test runner's own variables must not leak into the shell (they change how node runs it). */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

/**
 * Drives `src/shell.ts` (what `npm run shell` runs) through its stdin and stdout, as a user at
 * a terminal would: type a line, wait until the expected text appears.
 */
export class ShellDriver {
  readonly child: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private waiters: Array<() => void> = [];

  constructor(args: string[], env: Record<string, string>, wrap?: (argv: string[]) => string[]) {
    const argv = [process.execPath, '--import', 'tsx', 'src/shell.ts', ...args];
    const [program, ...rest] = wrap ? wrap(argv) : argv;
    this.child = spawn(program!, rest, {
      cwd: REPO,
      env: childEnv(env),
    });
    this.child.stdout.on('data', (d: Buffer) => {
      this.out += d.toString('utf8');
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr.on('data', (d: Buffer) => (this.err += d.toString('utf8')));
  }

  get output(): string {
    return this.out;
  }

  type(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Waits until `re` matches the output after `from` (default: anywhere); returns the match. */
  async expect(re: RegExp, opts: { from?: number; timeoutMs?: number } = {}): Promise<RegExpMatchArray> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      const m = this.out.slice(opts.from ?? 0).match(re);
      if (m) return m;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`shell output never matched ${re}\n--- stdout ---\n${this.out}\n--- stderr ---\n${this.err}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Types a line and waits for `re` in what follows it. */
  async say(line: string, re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray> {
    const from = this.out.length;
    this.type(line);
    return this.expect(re, { from, ...(timeoutMs ? { timeoutMs } : {}) });
  }

  async quit(): Promise<number | null> {
    this.child.stdin.end('quit\n');
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) resolve(this.child.exitCode);
      else this.child.once('exit', (code) => resolve(code));
    });
  }
}

/**
 * The same shell on a pseudo-terminal (util-linux `script`), so readline runs in terminal mode:
 * tab completion, prompt redraws and in-place status updates. Keys are sent raw (`\t`, `\r`).
 */
export class PtyShell extends ShellDriver {
  constructor(args: string[], env: Record<string, string>) {
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    super(args, { ...env, TERM: 'xterm' }, (argv) => ['script', '-qfec', argv.map(quote).join(' '), '/dev/null']);
  }

  /** Raw keystrokes (no newline added): `\t` completes, `\r` submits. */
  keys(s: string): void {
    this.child.stdin.write(s);
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

/**
 * The shell tests' world on the local libvirtd: a test env (`label`), a database beside it, the
 * shell's environment (two-person rule on), and a shut-off VM `golden` whose disk holds 0x5a.
 */
export function goldenShellLab(label: string): { lab: LibvirtTestEnv; db: string; env: Record<string, string> } {
  const lab = makeTestEnv(label);
  const db = `${lab.outsideDir}/kvmops.db`;
  const env = {
    KVMOPS_DB: db,
    KVMOPS_STORAGE_DIR: lab.storageDir,
    KVMOPS_HOSTS: 'local=qemu:///system',
    KVMOPS_TWO_PERSON: 'true',
    KVMOPS_LOG_LEVEL: 'warn',
  };
  const disk = createDisk(`${lab.outsideDir}/golden.qcow2`);
  writePattern(disk, 0x5a);
  defineVm(lab.vmName('golden'), [disk]);
  return { lab, db, env };
}
