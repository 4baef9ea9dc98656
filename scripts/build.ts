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
 * - yargs' argsert, which re-parses a signature string to check every call of yargs' own
 *   API and only warns, becomes agent/yargs-argsert.ts, which does nothing;
 * - yargs-parser's entry imports util (its `format` getter loads inspect), path, fs and
 *   node:module when it loads; it gets the deferred ones of agent/deferred-builtins.ts.
 *   Bun resolves built-in modules without asking plugins, so those import lines are
 *   rewritten, and the build fails if they are not there to rewrite.
 */
const MODULES = [
  { importer: /node_modules\/yargs\/index\.mjs$/, specifier: /^\.\/lib\/platform-shims\/esm\.mjs$/, module: "agent/yargs-platform.ts" },
  { importer: /node_modules\/yargs\/build\/lib\/[a-z-]+\.js$/, specifier: /^\.\/argsert\.js$/, module: "agent/yargs-argsert.ts" },
];
const DEFERRED_BUILTINS = { file: /node_modules\/yargs-parser\/build\/lib\/index\.js$/, imports: /from '(util|path|fs|node:module)';/g, count: 4, module: "agent/deferred-builtins.ts" };

/** The plugin; `used` collects the agent modules it put in place. */
function substitutes(used: Set<string>): Bun.BunPlugin {
  return {
    name: "typhoon-agent-substitutes",
    setup(build) {
      for (const { importer, specifier, module } of MODULES) {
        build.onResolve({ filter: specifier }, (args) => {
          if (!importer.test(args.importer)) return undefined;
          used.add(module);
          return { path: path.join(root, module) };
        });
      }
      build.onLoad({ filter: DEFERRED_BUILTINS.file }, async (args) => {
        const source = await Bun.file(args.path).text();
        const found = source.match(DEFERRED_BUILTINS.imports)?.length ?? 0;
        if (found !== DEFERRED_BUILTINS.count) {
          throw new Error(`${args.path}: expected ${DEFERRED_BUILTINS.count} built-in imports to defer, found ${found}; update scripts/build.ts`);
        }
        used.add(DEFERRED_BUILTINS.module);
        return { contents: source.replace(DEFERRED_BUILTINS.imports, `from ${JSON.stringify(path.join(root, DEFERRED_BUILTINS.module))};`), loader: "js" };
      });
    },
  };
}

export interface CompileOptions {
  entry?: string;
  /** A Bun target (bun-linux-x64) and the runtime to embed, for cross-compiling. */
  target?: Bun.Build.CompileTarget;
  executablePath?: string;
}

/** Builds `entry` (the agent by default) into the executable `outfile`. */
export async function compile(outfile: string, options: CompileOptions = {}): Promise<void> {
  const used = new Set<string>();
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
    plugins: [substitutes(used)],
  });
  if (!result.success) throw new AggregateError(result.logs, `bun build failed for ${outfile}`);
  // A dependency that moved a module would otherwise quietly get its own back.
  const missed = [...MODULES.map((substitute) => substitute.module), DEFERRED_BUILTINS.module].filter((module) => !used.has(module));
  if (options.entry === undefined && missed.length > 0) throw new Error(`${missed.join(", ")} replaced nothing in the agent's build; update scripts/build.ts`);
}

if (import.meta.main) {
  // TYPHOON_AGENT_BIN lets parallel work trees build and test their own binary.
  const outfile = process.env.TYPHOON_AGENT_BIN ?? "dist/typhoon-agent";
  await compile(outfile);
  console.log(`built ${outfile}`);
}
