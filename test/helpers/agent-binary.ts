// The compiled agent as a user runs it. `npm test` builds dist/typhoon-agent first (or
// $TYPHOON_AGENT_BIN); a test run without it fails loudly rather than testing stale code.

import * as fs from "node:fs";
import * as path from "node:path";
import { execa, type Options, type Result } from "execa";
import { recorded } from "./canary.ts";

export const REPO = path.resolve(import.meta.dir, "../..");
export const AGENT = path.resolve(REPO, process.env.TYPHOON_AGENT_BIN ?? "dist/typhoon-agent");

if (!fs.existsSync(AGENT)) {
  throw new Error(`${AGENT} is missing: run \`npm run build\` (npm test does it for you)`);
}

export type AgentResult = Result<{ reject: false }>;

/** Runs the binary; never throws on a non-zero exit, so tests assert the exit code. */
export async function runAgent(args: readonly string[], options: Options = {}): Promise<AgentResult> {
  return recorded(`typhoon-agent ${args.join(" ")}`, (await execa(AGENT, args, { reject: false, stripFinalNewline: false, ...options })) as unknown as AgentResult);
}
