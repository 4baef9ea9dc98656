// A real systemd-journald for one test: commands run against it, and the entries it stored
// come back parsed. Everything that must see the private journal runs inside one bash in
// new mount and PID namespaces (the test runner itself stays outside):
//   - tmpfs on /run/systemd, so journald binds /run/systemd/journal/socket there, where the
//     agent always sends (the host's /run/systemd is untouched, and may not even exist);
//   - a temporary directory bind-mounted on /var/log, so Storage=persistent writes
//     /var/log/journal/<machine-id>/*.journal into it, readable from outside afterwards;
//   - /run/systemd/journal/flushed, so journald writes there at once instead of waiting for
//     the flush request systemd-journal-flush.service would send at boot.
// The PID namespace ends with its bash: a test that times out cannot leave journald behind.
//
//   const run = await withJournald([[AGENT, "apply", bundle, "--root", root]]);
//   run.results[0].exitCode; run.entries.filter((e) => e.SYSLOG_IDENTIFIER === "typhoon-agent");
//
// Needs root (or CAP_SYS_ADMIN) and the Debian package systemd; journaldUnavailable() says
// why not, for tests to print before they skip.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { execa } from "execa";
import { tempDir } from "./tree.ts";
import { recordOutput } from "./canary.ts";

const JOURNALD = "/lib/systemd/systemd-journald";
const UNSHARE = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private"];

/** No compression (so a test may also grep the raw files), no rate limit, nothing read from or sent to the host. */
const JOURNALD_CONF = `[Journal]
Storage=persistent
Compress=no
RateLimitBurst=0
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
`;

/** One entry as `journalctl -o json` shows it, every value decoded to a string. */
export type JournalEntry = Readonly<Record<string, string>>;

export interface CommandResult {
  argv: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface JournaldRun {
  /** Every entry in the journal, journald's own ("Journal started"...) included, oldest first. */
  entries: JournalEntry[];
  /** One per command, in order. */
  results: CommandResult[];
  /** `journalctl -o export` of the whole journal: every byte of every field, to search for secrets. */
  exported: Buffer;
}

export interface JournaldOptions {
  /** Added to the environment of every command. */
  env?: Record<string, string>;
  cwd?: string;
  /** For the whole run, journald's start and stop included. Default 20 s. */
  timeoutMs?: number;
}

/** Why a real journald cannot run here, or undefined when it can. */
export function journaldUnavailable(): string | undefined {
  for (const tool of [JOURNALD, "/usr/bin/journalctl", "/usr/bin/unshare"]) {
    if (!fs.existsSync(tool)) return `${tool} is missing (Debian package systemd / util-linux)`;
  }
  const mountPoint = tempDir("typhoon-journald-probe-");
  try {
    const probe = spawnSync(UNSHARE[0]!, [...UNSHARE.slice(1), "mount", "-t", "tmpfs", "tmpfs", mountPoint], { encoding: "utf8" });
    if (probe.status !== 0) return `cannot mount in a private namespace: ${(probe.stderr || probe.error?.message || "").trim()}`;
  } finally {
    fs.rmSync(mountPoint, { recursive: true, force: true });
  }
  return undefined;
}

/** Runs `commands` one after another (stdin /dev/null) while a private journald listens. */
export async function withJournald(commands: readonly (readonly string[])[], options: JournaldOptions = {}): Promise<JournaldRun> {
  const work = tempDir("typhoon-journald-");
  try {
    fs.mkdirSync(path.join(work, "var-log/journal"), { recursive: true });
    fs.writeFileSync(path.join(work, "journald.conf"), JOURNALD_CONF);
    const namespaced = await execa(UNSHARE[0]!, [...UNSHARE.slice(1), "bash", "-c", namespaceScript(commands), "bash", work], {
      env: options.env ?? {},
      cwd: options.cwd ?? process.cwd(),
      timeout: options.timeoutMs ?? 20_000,
      reject: false,
    });
    if (namespaced.exitCode !== 0) {
      const journaldLog = readIfPresent(path.join(work, "journald.log"));
      throw new Error(`journald harness failed (${namespaced.exitCode ?? namespaced.signal}): ${namespaced.stderr}\njournald: ${journaldLog}`);
    }
    const results = commands.map((argv, index) => ({
      argv,
      exitCode: Number(fs.readFileSync(path.join(work, `rc.${index}`), "utf8")),
      stdout: fs.readFileSync(path.join(work, `out.${index}`), "utf8"),
      stderr: fs.readFileSync(path.join(work, `err.${index}`), "utf8"),
    }));
    const journal = path.join(work, "var-log/journal");
    const json = await execa("journalctl", ["-D", journal, "-o", "json", "--all", "--no-pager"], { maxBuffer: 1 << 30 });
    const exported = await execa("journalctl", ["-D", journal, "-o", "export", "--no-pager"], { encoding: "buffer", maxBuffer: 1 << 30 });
    recordOutput("the journal of a journald test", Buffer.from(exported.stdout));
    for (const result of results) recordOutput("a command run against journald", result.stdout, result.stderr);
    return { entries: parseJournalJson(json.stdout), results, exported: Buffer.from(exported.stdout) };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function namespaceScript(commands: readonly (readonly string[])[]): string {
  const steps = commands.map(
    (argv, index) => `${argv.map(shellQuoted).join(" ")} </dev/null >"$work/out.${index}" 2>"$work/err.${index}"; echo $? >"$work/rc.${index}"`,
  );
  return `set -u
work=$1
# A host without /run/systemd gets a private /run rather than a directory created on it.
if [ -d /run/systemd ]; then mount -t tmpfs -o mode=0755 tmpfs /run/systemd; else mount -t tmpfs -o mode=0755 tmpfs /run && mkdir /run/systemd; fi || exit 1
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d || exit 1
: >/run/systemd/journal/flushed
cp "$work/journald.conf" /run/systemd/journald.conf.d/typhoon-test.conf || exit 1
mount --bind "$work/var-log" /var/log || exit 1
${JOURNALD} 2>"$work/journald.log" &
journald=$!
for _ in $(seq 1000); do [ -S /run/systemd/journal/socket ] && break; sleep 0.01; done
[ -S /run/systemd/journal/socket ] || { echo "journald did not create its socket within 10 s" >&2; exit 1; }
${steps.join("\n")}
# Everything sent has been written once --sync returns; journald also drains its sockets before it exits on SIGTERM.
timeout 5 journalctl --sync
kill -TERM "$journald"
wait "$journald"
`;
}

function shellQuoted(argument: string): string {
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

/** journalctl writes a value as a string, as an array of bytes when it is not printable UTF-8, or an array of those when a field repeats. */
function parseJournalJson(output: string): JournalEntry[] {
  return output
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const raw = JSON.parse(line) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(raw).map(([name, value]) => [name, decodeValue(name, value)]));
    });
}

function decodeValue(name: string, value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((byte) => typeof byte === "number")) return Buffer.from(value).toString("utf8");
  throw new Error(`journal field ${name} holds ${JSON.stringify(value).slice(0, 100)}: the harness expects one value per field`);
}

function readIfPresent(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "(no log)";
}
