// Where each command's output goes, as an operator meets it on a terminal and in a pipe:
// the result (summary line, table, JSON) on standard output, diagnostics (errors, hints,
// warnings, and events when no journal takes them) on standard error, each said once;
// with --json, the JSON document is all of standard output. Run where no journal listens, as
// `--root` runs on a dev machine or in a container are: in a private mount namespace with an
// empty tmpfs on /run/systemd, so no journal socket of the host can be reached (needs root).

import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { AGENT, runAgent, type AgentResult } from "./helpers/agent-binary.ts";
import { tempDir } from "./helpers/tree.ts";
import { recorded } from "./helpers/canary.ts";
import { withJournald, journaldUnavailable } from "./helpers/journald.ts";

const WORKER = ["--role", "worker", "--runtime", "docker", "--no-start"];
const HIDE_JOURNAL = 'if [ -d /run/systemd ]; then mount -t tmpfs tmpfs /run/systemd || exit 99; fi; exec "$@"';
const WITHOUT_JOURNAL = ["unshare", "--mount", "--propagation", "private", "sh", "-c", HIDE_JOURNAL, "sh", AGENT];

/** The command with its streams in pipes, no journal listening. */
async function inPipes(args: readonly string[]): Promise<AgentResult> {
  const [program, ...prefix] = WITHOUT_JOURNAL;
  return recorded(`typhoon-agent ${args.join(" ")}`, (await execa(program!, [...prefix, ...args], { reject: false, stripFinalNewline: false, env: { TYPHOON_AGENT_JOURNAL: "" } })) as unknown as AgentResult);
}

/** The command on a pseudo-terminal (util-linux script), no journal listening: what the operator sees, both streams in one. */
async function onTerminal(args: readonly string[]): Promise<{ exitCode: number; screen: string }> {
  const command = [...WITHOUT_JOURNAL, ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
  const run = await recorded(`script -qec ${command}`, await execa("script", ["-qec", command, "/dev/null"], { reject: false, env: { TYPHOON_AGENT_JOURNAL: "" } }));
  return { exitCode: run.exitCode ?? -1, screen: String(run.stdout).replaceAll("\r\n", "\n") };
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

/** No line says what another line says: an event and the command's own line for it count as one. */
function expectEachSaidOnce(text: string, label: string): void {
  const said = lines(text).map((line) => line.replace(/^<\d>/, "").replace(/^typhoon-agent: /, "").replace(/^typhoon-agent (apply|rollback) /, "").replace(/ \w+=.*$/, ""));
  const seen = new Map<string, number>();
  for (const line of said) seen.set(line, (seen.get(line) ?? 0) + 1);
  expect([...seen].filter(([, count]) => count > 1), label).toEqual([]);
}

describe("apply: the summary on standard output, each event once", () => {
  test("in pipes: standard output holds the summary alone; standard error the events, neither the summary nor the outcome again", async () => {
    const root = tempDir();
    const run = await inPipes(["apply", "--root", root, ...WORKER]);
    expect(run.exitCode).toBe(0);
    expect(lines(String(run.stdout))).toEqual([expect.stringMatching(/^applied: 10 create \(worker, docker\) in [\d.]+ ms; backup \/var\/lib\/typhoon-agent\/backups\/\S+\.tar$/)]);
    expect(String(run.stderr)).toContain("<6>installed /etc/kubernetes/kubelet.yaml");
    expect(String(run.stderr)).not.toMatch(/applied: 10 create/);
  });

  test("on a terminal: every event and the summary once", async () => {
    const { exitCode, screen } = await onTerminal(["apply", "--root", tempDir(), ...WORKER]);
    expect(exitCode).toBe(0);
    expect(screen).toMatch(/^applied: 10 create/m);
    expect(screen.match(/10 create/g), screen).toHaveLength(1);
    expectEachSaidOnce(screen, "apply on a terminal");
  });

  test("a failure: its message once, then its hint, on standard error; nothing on standard output", async () => {
    const root = tempDir();
    const run = await inPipes(["apply", "--root", root, "--role", "worker", "--no-start"]);
    expect(run.exitCode).toBe(78);
    expect(String(run.stdout)).toBe("");
    expect(String(run.stderr).match(/runtime: auto needs/g)).toHaveLength(1);
    expect(String(run.stderr)).toMatch(/^typhoon-agent: hint: /m);
    const { screen } = await onTerminal(["apply", "--root", tempDir(), "--role", "worker", "--no-start"]);
    expect(screen.match(/runtime: auto needs/g)).toHaveLength(1);
  });

  test("--json: the document is all of standard output, on success and on failure", async () => {
    for (const args of [WORKER, ["--role", "worker", "--no-start"]]) {
      const run = await inPipes(["apply", "--root", tempDir(), "--json", ...args]);
      expect(JSON.parse(String(run.stdout)).exitCode).toBe(run.exitCode);
    }
  });
});

test("a summary that cannot be written (> /dev/full) does not fail the apply it reports: said on standard error, exit 0", async () => {
  const root = tempDir();
  const run = await recorded("apply > /dev/full", await execa("sh", ["-c", '"$@" > /dev/full', "sh", ...WITHOUT_JOURNAL, "apply", "--root", root, ...WORKER], { reject: false, env: { TYPHOON_AGENT_JOURNAL: "" } }));
  expect(run.exitCode, String(run.stderr)).toBe(0);
  expect(String(run.stderr)).toMatch(/^typhoon-agent: applied: 10 create .*\ntyphoon-agent: warning: cannot write standard output: ENOSPC \(no space left on device\)$/m);
  expect(fs.existsSync(path.join(root, "etc/kubernetes/kubelet.yaml"))).toBe(true);
});

test("--json that cannot be written (> /dev/full) after an apply or rollback did its work: exit 74, saying the run succeeded and where its report is, never to run it again", async () => {
  const root = tempDir();
  const toFull = (args: string[]) => execa("sh", ["-c", '"$@" > /dev/full', "sh", ...WITHOUT_JOURNAL, ...args], { reject: false, env: { TYPHOON_AGENT_JOURNAL: "" } });
  for (const [what, args, done] of [
    ["apply", ["apply", "--root", root, "--json", ...WORKER], /^typhoon-agent: the apply succeeded, but its JSON report was lost: cannot write standard output: ENOSPC \(no space left on device\)\ntyphoon-agent: hint: do not run the apply again for its report: \/var\/lib\/typhoon-agent\/result\.json holds it$/m],
    ["rollback", ["rollback", "--root", root, "--json", "--no-start"], /^typhoon-agent: the rollback succeeded, but its JSON report was lost: cannot write standard output: ENOSPC \(no space left on device\)\ntyphoon-agent: hint: do not run the rollback again: that would undo the apply before it too; the journal holds its report \(journalctl SYSLOG_IDENTIFIER=typhoon-agent\)$/m],
  ] as const) {
    const run = await recorded(`${what} --json > /dev/full`, await toFull([...args]));
    expect(run.exitCode, String(run.stderr)).toBe(74);
    expect(String(run.stderr), what).toMatch(done);
    expect(String(run.stderr), what).not.toMatch(/run the command again/);
  }
  // The rollback was done once: the apply it undid is gone, and nothing is left to undo.
  expect(fs.existsSync(path.join(root, "etc/kubernetes/kubelet.yaml"))).toBe(false);
});

describe("rollback, unpack, pack: the result line on standard output", () => {
  test("rollback", async () => {
    const root = tempDir();
    expect((await inPipes(["apply", "--root", root, ...WORKER])).exitCode).toBe(0);
    const { exitCode, screen } = await onTerminal(["rollback", "--root", root, "--no-start"]);
    expect(exitCode).toBe(0);
    expectEachSaidOnce(screen, "rollback on a terminal");
    expect(screen.match(/\d+ restored, \d+ removed/g), screen).toHaveLength(1);
    expect((await inPipes(["apply", "--root", root, ...WORKER])).exitCode).toBe(0);
    const run = await inPipes(["rollback", "--root", root, "--no-start"]);
    expect(lines(String(run.stdout))).toEqual([expect.stringMatching(/^rolled back \/var\/lib\/typhoon-agent\/backups\/\S+\.tar: 0 restored, \d+ removed in [\d.]+ ms$/)]);
    expect(String(run.stderr)).not.toMatch(/rolled back \/var/);
  });

  test("unpack and pack -o: the result on standard output; pack to standard output: the bundle there, the result on standard error", async () => {
    const work = tempDir();
    fs.writeFileSync(path.join(work, "bundle"), "##### a\n1\n##### b\n2");
    const unpacked = await runAgent(["unpack", path.join(work, "bundle"), "-C", path.join(work, "tree")]);
    expect([unpacked.exitCode, String(unpacked.stdout), String(unpacked.stderr)]).toEqual([0, `unpacked 2 assets (19 B) into ${path.join(work, "tree")}\n`, ""]);
    const packed = await runAgent(["pack", path.join(work, "tree"), "-o", path.join(work, "again")]);
    expect([packed.exitCode, String(packed.stdout), String(packed.stderr)]).toEqual([0, "packed 2 assets (19 B)\n", ""]);
    const streamed = await runAgent(["pack", path.join(work, "tree")]);
    expect([streamed.exitCode, String(streamed.stdout), String(streamed.stderr)]).toEqual([0, "##### a\n1\n##### b\n2", "typhoon-agent: packed 2 assets (19 B)\n"]);
  });
});

describe("-v", () => {
  test("--help of every command says what -v does", async () => {
    for (const command of ["apply", "plan", "rollback", "verify", "render", "unpack", "pack"]) {
      const help = String((await runAgent([command, "--help"])).stdout).replace(/\s+/g, " ");
      expect(help, command).toMatch(/-v, --verbose say more: apply and rollback also print each journal entry on standard error as it happens, plan lists unchanged paths, an internal error \(exit 70\) prints its stack/);
    }
  });

  test("without a journal: each event once still, the summary on standard output", async () => {
    const run = await inPipes(["apply", "--root", tempDir(), ...WORKER, "-v"]);
    expect(run.exitCode).toBe(0);
    expect(String(run.stdout)).toMatch(/^applied: 10 create/);
    expectEachSaidOnce(String(run.stderr), "apply -v without a journal");
    expect(String(run.stderr).match(/^<6>installed \/etc\/kubernetes\/kubelet\.yaml /gm)).toHaveLength(1);
  });

  const unavailable = journaldUnavailable();
  test.skipIf(unavailable !== undefined)("with a journal: every event also on standard error, as it happens; without -v none", async () => {
    const quiet = tempDir();
    const loud = tempDir();
    const run = await withJournald([
      [AGENT, "apply", "--root", quiet, ...WORKER],
      [AGENT, "apply", "--root", loud, ...WORKER, "-v"],
    ]);
    const [plain, verbose] = run.results;
    expect(String(plain!.stderr)).toBe("");
    expect(String(verbose!.stderr)).toMatch(/^<6>typhoon-agent apply started \(worker, docker\)$/m);
    expect(String(verbose!.stderr)).toMatch(/^<6>installed \/etc\/kubernetes\/kubelet\.yaml /m);
    expect(String(verbose!.stderr)).toMatch(/^<6>installed \/var\/lib\/typhoon-agent\/installed\.json /m);
    expect(String(verbose!.stderr)).not.toMatch(/apply applied/);
    expect(String(verbose!.stdout)).toMatch(/^applied: \d+ create/);
  });
});

describe("verify: the table says each finding once", () => {
  test("on a terminal without a journal: a finding and the summary appear once, in the table; the journal's copies are not echoed", async () => {
    const root = tempDir();
    expect((await runAgent(["apply", "--root", root, ...WORKER])).exitCode).toBe(0);
    fs.chmodSync(path.join(root, "etc/kubernetes/kubelet.yaml"), 0o666);
    const { exitCode, screen } = await onTerminal(["verify", "--root", root, ...WORKER.slice(0, 4)]);
    expect(exitCode, screen).toBe(1);
    expect(screen.match(/kubelet\.yaml.*0666/g), screen).toHaveLength(1);
    expect(screen.match(/^<\d>/gm), screen).toBeNull();
  });
});
