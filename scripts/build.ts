// Compiles the agent into one self-contained executable: `npm run build`.
// Bytecode needs ESM output; .env and bunfig.toml must never change what a boot-time tool
// does, so the binary does not look for them at run time. Splitting keeps each command's
// lazy import() a chunk of its own (still inside the executable): in one flat bundle every
// `import ... from "node:crypto"` (and child_process, stream, bun:ffi) is hoisted to the top
// and evaluated on every run, even `--version` (measured: 2 ms of start-up, 5 ms of a 1 MB
// unpack; the binary's size is the same).
import * as path from "node:path";

const root = path.resolve(import.meta.dir, "..");
export const ENTRY = "agent/typhoon-agent.ts";

/**
 * yargs' dependency tree loads, at every start, what only help, completion or an error
 * message uses (measured with BUN_OPTIONS=--cpu-prof; see the README's benchmarks). The
 * binary gives it the agent's own modules instead, each for one importer only:
 * - yargs' ESM platform shim (util, assert, fs, url, cliui with string-width, y18n, a
 *   package.json search, process.stdout) becomes agent/yargs-platform.ts;
 * - yargs-parser's entry imports util (its `format` getter loads inspect), path, fs and
 *   node:module when it loads; it gets the deferred ones of agent/deferred-builtins.ts.
 *   Bun resolves built-in modules without asking plugins, so those import lines are
 *   rewritten, and the build fails if they are not there to rewrite.
 */
const YARGS_PLATFORM = { importer: "node_modules/yargs/index.mjs", specifier: /^\.\/lib\/platform-shims\/esm\.mjs$/, module: "agent/yargs-platform.ts" };
const DEFERRED_BUILTINS = { file: /node_modules\/yargs-parser\/build\/lib\/index\.js$/, imports: /from '(util|path|fs|node:module)';/g, count: 4, module: "agent/deferred-builtins.ts" };

const substitutes: Bun.BunPlugin = {
  name: "typhoon-agent-substitutes",
  setup(build) {
    build.onResolve({ filter: YARGS_PLATFORM.specifier }, (args) =>
      args.importer.endsWith(YARGS_PLATFORM.importer) ? { path: path.join(root, YARGS_PLATFORM.module) } : undefined,
    );
    build.onLoad({ filter: DEFERRED_BUILTINS.file }, async (args) => {
      const source = await Bun.file(args.path).text();
      const found = source.match(DEFERRED_BUILTINS.imports)?.length ?? 0;
      if (found !== DEFERRED_BUILTINS.count) {
        throw new Error(`${args.path}: expected ${DEFERRED_BUILTINS.count} built-in imports to defer, found ${found}; update scripts/build.ts`);
      }
      return { contents: source.replace(DEFERRED_BUILTINS.imports, `from ${JSON.stringify(path.join(root, DEFERRED_BUILTINS.module))};`), loader: "js" };
    });
  },
};

export interface CompileOptions {
  entry?: string;
  /** A Bun target (bun-linux-x64) and the runtime to embed, for cross-compiling. */
  target?: Bun.Build.CompileTarget;
  executablePath?: string;
}

/** Builds `entry` (the agent by default) into the executable `outfile`. */
export async function compile(outfile: string, options: CompileOptions = {}): Promise<void> {
  const result = await Bun.build({
    entrypoints: [path.resolve(root, options.entry ?? ENTRY)],
    compile: {
      outfile: path.resolve(root, outfile),
      autoloadDotenv: false,
      autoloadBunfig: false,
      ...(options.target === undefined ? {} : { target: options.target }),
      ...(options.executablePath === undefined ? {} : { executablePath: options.executablePath }),
    },
    minify: true,
    bytecode: true,
    format: "esm",
    splitting: true,
    plugins: [substitutes],
  });
  if (!result.success) throw new AggregateError(result.logs, `bun build failed for ${outfile}`);
}

if (import.meta.main) {
  // TYPHOON_AGENT_BIN lets parallel work trees build and test their own binary.
  const outfile = process.env.TYPHOON_AGENT_BIN ?? "dist/typhoon-agent";
  await compile(outfile);
  console.log(`built ${outfile}`);
}
