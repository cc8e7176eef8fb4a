/**
 * One argv builder per external program (virsh-args.ts, qemu-img-args.ts, qemu-io-args.ts,
 * sysprep-args.ts, guestfish-args.ts, coreutils-args.ts, setpriv-args.ts, xorriso-args.ts,
 * ssh-args.ts, env-args.ts, ssh-keygen-args.ts, scripts-args.ts): the only places that
 * spell a program's options. A builder's result carries its program's brand and each program's runner accepts
 * only that brand, so an argv spelled by hand at a call site does not type-check. The brand
 * exists for the type checker only: at run time an argv is a plain array of strings.
 */

declare const TOOL: unique symbol;

/** The argv (after the program name) of one call of `Tool`, made by `Tool`'s builder module. */
export type ToolArgs<Tool extends string> = readonly string[] & { readonly [TOOL]: Tool };

type Builder = (...args: never[]) => readonly string[];

export type ToolBuilders<Tool extends string, B extends Record<string, Builder>> = {
  readonly [K in keyof B]: (...args: Parameters<B[K]>) => ToolArgs<Tool>;
};

/** Brands a builder module's functions for `tool`: each builder module calls this once. */
export function toolBuilders<Tool extends string, B extends Record<string, Builder>>(_tool: Tool, builders: B): ToolBuilders<Tool, B> {
  return builders as unknown as ToolBuilders<Tool, B>;
}
