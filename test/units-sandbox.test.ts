// The agent's own units are as tight as their work allows, measured the way systemd measures
// it: `systemd-analyze security --offline=yes` on each unit as Ignition places it, for every
// distro. The exposure stays within its goal, and every hardening setting systemd finds
// missing is explained by a comment in the unit (a setting dropped without one fails here).
// test/boot boots these units and runs apply and verify inside them.

import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { agentFiles, DISTROS, literalText, sysextFiles, type Distro } from "../packaging/agent-files.ts";
import { tempDir } from "./helpers/tree.ts";

/** The exposure each unit must stay at or below (systemd's 0-10 scale). */
const GOALS: Record<string, number> = { "typhoon-agent.service": 4.0, "typhoon-agent-verify.service": 2.5 };

/** The measured units as a node of `distro` gets them: placed by Ignition, or in the sysext image (Flatcar). */
function nodeUnits(distro: Distro): Array<readonly [string, string]> {
  if (DISTROS[distro].delivery === "sysext") {
    return [...sysextFiles()].map(([file, text]) => [path.basename(file), text] as const).filter(([name]) => name in GOALS);
  }
  return agentFiles(distro, "controller").units.flatMap((unit) => (unit.name in GOALS && unit.contents !== undefined ? [[unit.name, literalText(unit.contents)] as const] : []));
}

async function security(unit: string, text: string): Promise<{ exposure: number; missing: string[]; output: string }> {
  const file = path.join(tempDir("typhoon-security-"), unit);
  fs.writeFileSync(file, text);
  const result = await execa("systemd-analyze", ["security", "--offline=yes", "--no-pager", file], { reject: false, env: { SYSTEMD_COLORS: "0" } });
  const output = `${result.stdout}${result.stderr}`;
  const exposure = /Overall exposure level for \S+: (\d+\.\d)/.exec(output)?.[1];
  if (exposure === undefined) throw new Error(`systemd-analyze security printed no exposure:\n${output}`);
  const missing = output.split("\n").flatMap((line) => /^✗ (\S+)/.exec(line)?.slice(1, 2) ?? []);
  return { exposure: Number(exposure), missing, output };
}

/** What a unit's comments must name for a setting systemd reports as missing. */
function explanationNeeded(setting: string, unitText: string): string[] {
  const [name = "", value = ""] = setting.split(/=(.*)/s);
  if (name === "CapabilityBoundingSet") {
    // every capability the unit keeps is said why
    return /^CapabilityBoundingSet=(.*)$/m.exec(unitText)?.[1]?.split(/\s+/) ?? ["CapabilityBoundingSet="];
  }
  if (value.startsWith("~")) return [value.slice(1)]; // SystemCallFilter=~@privileged, RestrictAddressFamilies=~AF_UNIX
  return [`${name}=`];
}

describe.each(Object.keys(DISTROS) as Distro[])("%s", (distro) => {
  test.each(nodeUnits(distro))("%s: exposure within its goal, every missing setting explained", async (name, text) => {
    const { exposure, missing, output } = await security(name, text);
    expect(exposure, output).toBeLessThanOrEqual(GOALS[name]!);
    const comments = text.split("\n").filter((line) => line.startsWith("#")).join("\n");
    for (const setting of missing) {
      for (const word of explanationNeeded(setting, text)) expect(comments, `${name}: ${setting} is not set; a comment must say why (naming ${word})`).toContain(word);
    }
  });
});

test("the measure can fail: the same units without their hardening exceed both goals", async () => {
  for (const [name, text] of nodeUnits("fedora-coreos")) {
    const bare = text.slice(0, text.indexOf("\n# Hardening"));
    const { exposure } = await security(name, `${bare}\n`);
    expect(exposure, name).toBeGreaterThan(GOALS[name]!);
  }
});
