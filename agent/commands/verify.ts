// `typhoon-agent verify`: the CLI side of agent/verify. Loads the configuration as it stands
// now (the checks compare it with the one the install recorded), runs the checks, prints the
// table (or JSON), writes the metrics, and exits 1 when any check found an error.

import type { Argv, CommandModule } from "yargs";
import { configOptions, flagsFromArgs, type ConfigArgs } from "../config/options.ts";
import { AgentError, ExitCode, exitCodeHelp } from "../errors.ts";
import { TEXTFILE_COLLECTOR_DIRECTORY } from "../paths.ts";
import { print } from "../report/console.ts";
import type { VerifyResult } from "../verify/findings.ts";
import type { CurrentConfig } from "../verify/expected.ts";
import { MAX_WARN_DAYS, days } from "./option-checks.ts";

/** Certificates closer to their NotAfter are a warning; the shipped expiry alert warns from the same day. */
export const DEFAULT_WARN_DAYS = 90;

interface VerifyArgs extends ConfigArgs {
  json: boolean;
  "warn-days": number;
  verbose: boolean;
}

/** The table (or --json) shows every finding and the summary, and the metrics warning is its own line: the journal still gets them. */
const SAID_BY_VERIFY = ["certificateExpiring", "checkFailed", "verifyDone", "metricsNotWritten"] as const;

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: "verify",
  describe: "Check what apply installed: owners and modes, keys against certificates, chains, expiry",
  builder: (yargs) =>
    (
      configOptions(
        (yargs as Argv<object>)
          .option("json", { type: "boolean", default: false, describe: "print one JSON document (certificates, findings, exit code) on standard output" })
          .option("warn-days", { type: "string", requiresArg: true, default: DEFAULT_WARN_DAYS, coerce: days("warn-days"), describe: `warn about certificates that expire within this many days (0 to ${MAX_WARN_DAYS} days)` }),
      ) as unknown as Argv<VerifyArgs>
    )
      .example("$0 verify", "what typhoon-agent-verify.timer runs every day")
      .example("$0 verify --warn-days 30 --json", "fewer warnings, for a monitoring system")
      .example("$0 verify --root /mnt/node", "a node's disk mounted elsewhere")
      .epilogue(exitCodeHelp()),
  handler: async (args) => {
    // As another user every 0400 key would look unreadable, which verify cannot tell from drift.
    if (process.getuid?.() !== 0) throw new AgentError(ExitCode.noPermission, "verify reads private keys owned by root, etcd and nobody", "run it as root: sudo typhoon-agent verify");
    const started = performance.now();
    const checkedAt = new Date();
    const [{ runVerify }, { formatVerifyResult, summaryLine }, { HostRoot }, { createJournal }, { publishVerifyMetrics }] = await Promise.all([
      import("../verify/verify.ts"),
      import("../report/verify-table.ts"),
      import("../hostfs/host-root.ts"),
      import("../journal/journal.ts"),
      import("../metrics/publish.ts"),
    ]);
    const host = new HostRoot(args.root);
    const events = createJournal({ verbose: args.verbose, saidByCommand: SAID_BY_VERIFY });
    const { current, metricsDirectory } = await verifyInputs(args, host.root);
    const metrics = (exitCode: number, result?: VerifyResult): void =>
      publishVerifyMetrics(host, metricsDirectory, { checkedAt, durationSeconds: (performance.now() - started) / 1000, exitCode, ...(result === undefined ? {} : { result }) }, events);
    let result: VerifyResult;
    try {
      result = runVerify({ host, current, warnDays: args["warn-days"], now: checkedAt }, events);
    } catch (error) {
      // Stopped before checking (no install record, an unreadable one): a failed run all the same.
      if (error instanceof AgentError) metrics(error.exitCode);
      throw error;
    }
    metrics(result.exitCode, result);
    print(args.json ? JSON.stringify(result, null, 2) : formatVerifyResult(result));
    if (result.exitCode !== ExitCode.ok) throw new AgentError(ExitCode.failed, summaryLine(result), result.hint);
  },
};

/**
 * The configuration as it stands now, for the checks to compare with what the install
 * recorded, and where the metrics go. A daily health check must still see the certificates
 * when agent.yaml does not load, however it fails: that is one finding, and the metrics go to
 * the default directory, so the failure reaches Prometheus too.
 */
async function verifyInputs(args: VerifyArgs, root: string): Promise<{ current: CurrentConfig; metricsDirectory: string }> {
  const [{ loadConfig }, { DEFAULT_CONFIG_PATH }] = await Promise.all([import("../config/load.ts"), import("../config/keys.ts")]);
  const path = args.config ?? DEFAULT_CONFIG_PATH;
  try {
    const loaded = loadConfig({ root, configPath: args.config, flags: flagsFromArgs(args) });
    const withoutFlags = loadConfig({ root, configPath: args.config, flags: {} }).config;
    return { current: { path, loaded, withoutFlags }, metricsDirectory: loaded.config.textfile_collector_dir };
  } catch (error) {
    // Any way it fails to load (broken YAML, a directory, a FIFO, a dangling link, not UTF-8): one finding.
    if (!(error instanceof AgentError)) throw error;
    return { current: { path, problem: error.message }, metricsDirectory: TEXTFILE_COLLECTOR_DIRECTORY };
  }
}
