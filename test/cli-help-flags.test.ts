// Every command's --help lists exactly the flags that command reads: parsed from the help the
// compiled binary prints, compared with the table below, and each flag in the table found read
// in the command's own source (args.name, args["name"], or the configuration flags through
// flagsFromArgs). A flag added to a shared builder but unused by one command fails here.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { REPO, runAgent } from "./helpers/agent-binary.ts";
import { CONFIG_KEY_LIST, flagName } from "../agent/config/keys.ts";

const CONFIG = ["config", ...CONFIG_KEY_LIST.map((key) => flagName(key.name))];
/** Read by agent/cli.ts for every command. */
const GLOBAL = ["help", "version", "verbose"];

/** What each command reads, besides GLOBAL; "config" stands for every configuration flag. */
const READS: Record<string, { source: string; flags: string[]; config: boolean }> = {
  apply: { source: "apply.ts", flags: ["root", "start", "keep-bundle", "json", "change-role", "allow-unknown", "expect-sha256", "lock-wait", "dry-run"], config: true },
  plan: { source: "apply.ts", flags: ["root", "json", "change-role", "allow-unknown", "expect-sha256"], config: true },
  rollback: { source: "rollback.ts", flags: ["root", "json", "start", "lock-wait"], config: false },
  verify: { source: "verify.ts", flags: ["root", "json", "warn-days"], config: true },
  render: { source: "render.ts", flags: ["root"], config: true },
  unpack: { source: "unpack.ts", flags: ["directory", "awk"], config: false },
  pack: { source: "pack.ts", flags: ["output"], config: false },
};

/** `--name` at the start of an option line (after a short alias, if any); --no-x lines name x. */
function helpFlags(help: string): string[] {
  const flags = [...help.matchAll(/^ {2}(?:-\w, )?\s*--(?:no-)?([a-z][a-z0-9-]*)/gm)].map((match) => match[1]!);
  return [...new Set(flags)].sort();
}

describe("each command's --help lists only the flags it reads", () => {
  for (const [command, { source, flags, config }] of Object.entries(READS)) {
    test(command, async () => {
      const help = await runAgent([command, "--help"]);
      expect(help.exitCode).toBe(0);
      const expected = [...GLOBAL, ...flags, ...(config ? CONFIG : [])].sort();
      expect(helpFlags(String(help.stdout))).toEqual([...new Set(expected)].sort());
      const code = fs.readFileSync(path.join(REPO, "agent/commands", source), "utf8");
      for (const flag of flags) {
        const camel = flag.replace(/-(\w)/g, (_, letter: string) => letter.toUpperCase());
        expect(code.includes(`args["${flag}"]`) || new RegExp(`args\\.${camel}\\b`).test(code), `${command} reads --${flag}`).toBe(true);
      }
      if (config) expect(code, `${command} reads the configuration flags`).toContain("flagsFromArgs(args)");
    });
  }
});
