import { toolBuilders, type ToolArgs } from './tool-args.js';

/**
 * `env` argv builders: a program run with extra environment variables where kvmops cannot set
 * its environment itself — on a remote host over ssh, which carries one command string and no
 * environment (ssh's SendEnv needs the server's AcceptEnv; `VAR=value program` would need the
 * remote shell to read an assignment). `env` takes them as plain words, which ssh-args.ts quotes
 * like any other argument: a value is never parsed by a shell.
 */

export const ENV = 'env';

export type EnvArgs = ToolArgs<typeof ENV>;

/** A variable name env reads as an assignment and never as an option or a program. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const envArgs = toolBuilders(ENV, {
  /**
   * `program args…` with `vars` added to the environment. `--`: nothing after it is an option
   * of env's; a program name holding `=` would be read as one more assignment, so it is refused
   * (as a variable name that is not one).
   */
  run: <P extends string>(vars: Readonly<Record<string, string>>, program: P, args: ToolArgs<P>): string[] => {
    const assignments = Object.entries(vars).map(([k, v]) => {
      if (!NAME.test(k)) throw new Error(`not an environment variable name: ${JSON.stringify(k)}`);
      return `${k}=${v}`;
    });
    if (program.includes('=') || program === '') throw new Error(`not a program name env can run: ${JSON.stringify(program)}`);
    return ['--', ...assignments, program, ...args];
  },
});
