// Compiles the agent into one self-contained executable: `npm run build`.
// --bytecode needs ESM output; .env and bunfig.toml must never change what a boot-time
// tool does, so the binary does not look for them at run time. --splitting keeps each
// command's lazy import() a chunk of its own (still inside the executable): in one flat
// bundle every `import ... from "node:crypto"` (and child_process, stream, bun:ffi) is
// hoisted to the top and evaluated on every run, even `--version` (measured: 2 ms of
// start-up, 5 ms of a 1 MB unpack; the binary's size is the same).
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const root = path.resolve(import.meta.dir, "..");

export const COMPILE_FLAGS = [
  "build",
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--splitting",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

export function compile(outfile: string, extra: readonly string[] = []): void {
  const result = spawnSync(process.execPath, [...COMPILE_FLAGS, ...extra, "agent/cli.ts", "--outfile", outfile], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (result.status !== 0) throw new Error(`bun build failed for ${outfile} (exit ${result.status})`);
}

if (import.meta.main) {
  // TYPHOON_AGENT_BIN lets parallel work trees build and test their own binary.
  const outfile = process.env.TYPHOON_AGENT_BIN ?? "dist/typhoon-agent";
  compile(outfile);
  console.log(`built ${outfile}`);
}
