// The start-up floors the agent is compared with, compiled once per bench run by
// scripts/build.ts with the agent's own build (never committed): a program that prints one
// line, and the same printing it through node:fs as every command of the agent does.

import * as fs from "node:fs";
import * as path from "node:path";
import { compile } from "../build.ts";

const SOURCES = path.resolve(import.meta.dir, "baselines");

export type Baseline = "bare" | "bare-fs";

/** The compiled `name` in `work`, built on first use. */
export async function baseline(work: string, name: Baseline): Promise<string> {
  const binary = path.join(work, `baseline-${name}`);
  if (!fs.existsSync(binary)) await compile(binary, { entry: path.join(SOURCES, `${name}.ts`) });
  return binary;
}
