// `systemd-analyze verify` against a scratch root, so unit files are checked the way systemd
// loads them without installing anything on the machine running the tests.

import { execa } from "execa";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./tree.ts";

/**
 * A root with the host's target units (default dependencies must resolve), docker.service
 * standing in for Flatcar's, and executable stubs at exactly `executables`, so a unit
 * pointing anywhere else fails.
 */
export function analyzeRoot(executables: readonly string[]): string {
  const root = tempDir("typhoon-analyze-");
  const units = path.join(root, "usr/lib/systemd/system");
  fs.mkdirSync(units, { recursive: true });
  for (const name of fs.readdirSync("/usr/lib/systemd/system").filter((file) => file.endsWith(".target"))) {
    fs.copyFileSync(path.join("/usr/lib/systemd/system", name), path.join(units, name));
  }
  fs.writeFileSync(path.join(units, "docker.service"), "[Service]\nExecStart=/usr/bin/dockerd\n");
  for (const executable of ["/usr/bin/dockerd", ...executables]) {
    fs.mkdirSync(path.join(root, path.dirname(executable)), { recursive: true });
    fs.writeFileSync(path.join(root, executable), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  }
  fs.mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
  return root;
}

/**
 * Writes `units` (name → text; "a.service.d/b.conf" for a drop-in) to ROOT/etc/systemd/system
 * and verifies the units together, each with its drop-ins.
 */
export async function analyzeUnits(root: string, units: Readonly<Record<string, string>>): Promise<{ exitCode: number | undefined; stderr: string }> {
  const paths: string[] = [];
  for (const [name, text] of Object.entries(units)) {
    fs.mkdirSync(path.dirname(path.join(root, "etc/systemd/system", name)), { recursive: true });
    fs.writeFileSync(path.join(root, "etc/systemd/system", name), text);
    if (!name.includes("/")) paths.push(`/etc/systemd/system/${name}`);
  }
  const result = await execa("systemd-analyze", ["verify", `--root=${root}`, ...paths], { reject: false });
  return { exitCode: result.exitCode, stderr: result.stderr };
}
