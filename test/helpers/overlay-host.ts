// The live root, safely: the agent run on "/" as on a node, inside a private mount namespace
// whose /etc, /opt, /var and /home are overlays, so every write lands in scratch upper
// directories that the test reads afterwards.

import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { AGENT } from "./agent-binary.ts";
import { makeHost, writeSampleBundle } from "./host.ts";
import { tempDir } from "./tree.ts";
import { recordOutput } from "./canary.ts";

const QUIET = { TYPHOON_AGENT_JOURNAL: "stderr" };

/**
 * Runs the agent on "/" as on a node, once per entry of `runs` (its arguments, after any
 * VAR=value words for that run's environment; ASSETS is the sample bundle), inside one private mount namespace with overlays on /etc, /opt, /var and
 * /home: every write lands in scratch upper directories, the machine's own /etc is never
 * touched, and `systemctl` is the given stub script. Returns undefined (after saying why)
 * where the namespace cannot be made.
 */
export async function applyOnOverlay(
  systemctl: string,
  runs: readonly string[] = ["apply ASSETS"],
): Promise<{ work: string; cwd: string; exitCode: number; exitCodes: number[]; stdout: string; stderr: string } | undefined> {
  const work = tempDir("typhoon-overlay-");
  const stubs = path.join(work, "bin");
  fs.mkdirSync(stubs);
  fs.writeFileSync(path.join(stubs, "systemctl"), `#!/bin/sh\n${systemctl.replaceAll("$LOG", `${work}/systemctl.log`)}\n`, { mode: 0o755 });
  const host = makeHost();
  await writeSampleBundle(path.join(work, "assets"));
  const mounts = ["etc", "opt", "var", "home"].map(
    (dir) => `mkdir -p ${work}/upper/${dir} ${work}/overlay-work/${dir} && mount -t overlay overlay -o lowerdir=/${dir},upperdir=${work}/upper/${dir},workdir=${work}/overlay-work/${dir} /${dir}`,
  );
  // --remove-destination: /etc/os-release is a symlink into /usr, which is not overlaid.
  const setUp = [...mounts, `cp --remove-destination ${host}/etc/passwd ${host}/etc/group ${host}/etc/os-release /etc/`].join(" && ");
  const probe = await execa("unshare", ["--mount", "--propagation", "private", "bash", "-c", setUp], { reject: false });
  if (probe.exitCode !== 0) {
    console.log(`kubelet start tests skipped: cannot overlay-mount in a private namespace here (${probe.stderr.trim()})`);
    return undefined;
  }
  // Runs start in an empty scratch directory: a path taken relative to it must show up there, not in the repository.
  const cwd = path.join(work, "cwd");
  fs.mkdirSync(cwd);
  // A run may start with VAR=value words: the environment of that run only.
  const agentRuns = runs.map((args) => {
    const [, environment = "", rest = args] = /^((?:\w+=\S*\s+)*)(.*)$/s.exec(args) ?? [];
    return `${environment}PATH=${stubs}:$PATH ${AGENT} ${rest.replaceAll("ASSETS", `${work}/assets`)}; echo $? >> ${work}/exit-codes`;
  });
  const result = await execa("unshare", ["--mount", "--propagation", "private", "bash", "-c", [setUp, ...agentRuns].join(" && ")], { reject: false, env: QUIET, cwd });
  recordOutput(`on the overlaid host: ${runs.join("; ")}`, result.stdout, result.stderr);
  const exitCodes = fs.readFileSync(path.join(work, "exit-codes"), "utf8").trim().split("\n").map(Number);
  return { work, cwd, exitCode: exitCodes.at(-1) ?? result.exitCode ?? -1, exitCodes, stdout: result.stdout, stderr: result.stderr };
}
