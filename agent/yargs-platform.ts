// What yargs needs from its host, for the compiled binary: scripts/build.ts puts this module
// in place of yargs' own ESM platform shim (lib/platform-shims/esm.mjs). That shim imports,
// and partly runs, everything yargs might ever need the moment yargs loads: node:util (for
// `format`, which pulls in inspect), node:assert, node:fs, node:url, cliui with string-width
// (which builds an Intl.Segmenter), a package.json search up the directory tree, y18n
// reading locale files, and `process.stdout.columns`, which makes Bun build the stdout
// stream. Measured with BUN_OPTIONS=--cpu-prof, that is more than the runtime's own start.
//
// Here every one of them is loaded on first use: a command pays for what its run touches,
// help and completion pay for the rendering they do. `require` (Bun's, inside an ES
// module) is what makes that synchronous, as yargs calls these functions synchronously;
// the bundler turns each call into a lookup of a chunk of the same executable.
//
// Not supported, because the agent does not use them: loading commands from a directory
// (commandDir), `extends` and config files that are JavaScript modules. Messages are
// yargs' English ones, as before (a compiled binary carries no locale files).

import type yargsParser from "yargs-parser";

type Util = typeof import("node:util");
type Path = typeof import("node:path");
type Fs = typeof import("node:fs");

function once<T>(load: () => T): () => T {
  let loaded: { value: T } | undefined;
  return () => (loaded ??= { value: load() }).value;
}

/** An ES module's default export through require(), whichever way round the bundler hands it over. */
function defaultExport<T>(module: unknown): T {
  return (typeof module === "function" ? module : (module as { default: T }).default) as T;
}

const util = once(() => require("node:util") as Util);
const path = once(() => require("node:path") as Path);
const fs = once(() => require("node:fs") as Fs);
const parser = once(() => defaultExport<typeof yargsParser>(require("yargs-parser")));

function notSupported(what: string): never {
  throw new Error(`${what} is not supported by typhoon-agent's build of yargs`);
}

/**
 * yargs' strings, English only; `updateStrings()` overrides them as with y18n. yargs looks
 * some up while declaring options ("Positionals:"); util.format leaves a string without
 * arguments as it is, so node:util is loaded only for a message that has some.
 */
function englishStrings() {
  const overrides: Record<string, unknown> = {};
  const text = (key: string): string => (typeof overrides[key] === "string" ? (overrides[key] as string) : key);
  const format = (template: string, args: readonly unknown[]): string => (args.length === 0 ? template : util().format(template, ...args));
  return {
    __: (key: string, ...args: unknown[]): string => format(text(key), args),
    __n(singular: string, plural: string, quantity: number, ...args: unknown[]): string {
      const chosen = quantity === 1 ? text(singular) : text(plural);
      return format(chosen, chosen.includes("%d") ? [quantity, ...args] : args);
    },
    setLocale(): void {},
    getLocale: (): string => "en",
    updateLocale(strings: Record<string, unknown>): void {
      Object.assign(overrides, strings);
    },
    locale: "en",
  };
}

export default {
  assert: {
    notStrictEqual(actual: unknown, expected: unknown, message?: string | Error): void {
      if (actual === expected) throw message instanceof Error ? message : new Error(message ?? `expected a value other than ${String(expected)}`);
    },
    strictEqual(actual: unknown, expected: unknown, message?: string | Error): void {
      if (actual !== expected) throw message instanceof Error ? message : new Error(message ?? `expected ${String(expected)}, got ${String(actual)}`);
    },
  },
  cliui: (options: unknown) => defaultExport<(options: unknown) => unknown>(require("cliui"))(options),
  // The version is given to yargs explicitly, and a compiled binary has no package.json to find.
  findUp: (): undefined => undefined,
  getEnv: (key: string): string | undefined => process.env[key],
  inspect: (value: unknown): string => util().inspect(value),
  getProcessArgvBin: (): string | undefined => process.argv[1],
  mainFilename: process.execPath,
  get Parser() {
    return parser();
  },
  path: {
    basename: (file: string, suffix?: string) => path().basename(file, suffix),
    dirname: (file: string) => path().dirname(file),
    extname: (file: string) => path().extname(file),
    relative: (from: string, to: string) => path().relative(from, to),
    resolve: (...parts: string[]) => path().resolve(...parts),
    join: (...parts: string[]) => path().join(...parts),
  },
  process: {
    argv: () => process.argv,
    cwd: () => process.cwd(),
    emitWarning: (warning: string, type?: string) => process.emitWarning(warning, type),
    execPath: () => process.execPath,
    exit: (code: number) => process.exit(code),
    nextTick: (callback: () => void) => process.nextTick(callback),
    get stdColumns(): number | null {
      return process.stdout.columns ?? null;
    },
  },
  readFileSync: (file: string, encoding: BufferEncoding) => fs().readFileSync(file, encoding),
  readdirSync: (directory: string, options: { recursive: boolean }) => fs().readdirSync(directory, options),
  require: () => notSupported("a JavaScript config file or `extends`"),
  getCallerFile: () => notSupported("commandDir()"),
  stringWidth: (text: string) => defaultExport<(text: string) => number>(require("string-width"))(text),
  y18n: englishStrings(),
};
