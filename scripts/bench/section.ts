// What every benchmark section shares: the binary under test, and the shape of a row.

import * as fs from "node:fs";
import * as path from "node:path";

export const REPO = path.resolve(import.meta.dir, "../..");
// The binary `npm run bench` just built: dist/typhoon-agent, or $TYPHOON_AGENT_BIN as scripts/build.ts takes it.
export const AGENT = path.resolve(REPO, process.env.TYPHOON_AGENT_BIN ?? "dist/typhoon-agent");

export interface Row {
  measure: string;
  agent: string;
  baseline: string;
  ratio?: number;
  target?: string;
  met?: boolean;
}

export interface SectionContext {
  work: string;
  quick: boolean;
}

export interface Section {
  id: string;
  title: string;
  run(context: SectionContext): Promise<Row[]> | Row[];
}

export const ms = (value: number): string => `${value.toFixed(1)} ms`;
export const mb = (kilobytes: number | undefined): string => (kilobytes === undefined ? "n/a" : `${(kilobytes / 1024).toFixed(1)} MB`);

/** A fresh copy of `skeleton` at `root` before every run. */
export function freshCopy(skeleton: string, root: string): () => void {
  return () => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.cpSync(skeleton, root, { recursive: true, preserveTimestamps: true });
  };
}

// Without a journal socket the agent writes its events to stderr; the bench discards them.
export const AGENT_ENV = { ...process.env, TYPHOON_AGENT_JOURNAL: "stderr" };
