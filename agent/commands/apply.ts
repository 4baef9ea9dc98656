// `typhoon-agent apply` and `typhoon-agent plan` (= apply --dry-run): the CLI side of
// agent/apply. Turns flags and the config file into an ApplyRequest, runs it, prints the
// outcome (a table, a summary line, or JSON) and exits with the result's code.

import type { Argv, CommandModule } from "yargs";
import type { ApplyOutcome } from "../apply/apply.ts";
import type { ApplyResult } from "../report/apply-result.ts";
import { configOptions, flagsFromArgs, type ConfigArgs } from "../config/options.ts";
import { AgentError, UsageError, exitCodeHelp } from "../errors.ts";
import { BUNDLE_PATH, RESULT_FILE, TEXTFILE_COLLECTOR_DIRECTORY } from "../paths.ts";
import { MAX_WAIT_SECONDS, pathValue, seconds, sha256Digest } from "./option-checks.ts";
import { print, printDone, say, sayDone } from "../report/console.ts";
import type { EventLog } from "../report/events.ts";

/** What plan and apply both read; the flags only apply reads are absent from plan (and its --help). */
interface PlanArgs extends ConfigArgs {
  bundle: string | undefined;
  json: boolean;
  "allow-unknown": boolean;
  "expect-sha256": string | undefined;
  "change-role": boolean;
  verbose: boolean;
}

interface ApplyArgs extends PlanArgs {
  "dry-run": boolean;
  start: boolean;
  "keep-bundle": boolean;
  "lock-wait": number;
}

const SILENT: EventLog = { emit() {} };

/** apply prints its own summary and error; the journal still gets both entries. */
const SAID_BY_APPLY = ["applyDone", "applyFailed", "metricsNotWritten"] as const;

function planBuilder(yargs: Argv<object>): Argv<PlanArgs> {
  const declared = configOptions(
    yargs
      .positional("bundle", { type: "string", coerce: pathValue("<bundle>", "the bundle's path, or - for standard input", { stdin: true }), describe: "the asset bundle Terraform copied (controllers), - for standard input" })
      .option("json", { type: "boolean", default: false, describe: "print one JSON document (actions, exit code, durations) on standard output" })
      .option("change-role", { type: "boolean", default: false, describe: "change the role of an installed node on purpose (a controller's control plane is removed; rollback undoes it), instead of refusing (exit 78)" })
      .option("allow-unknown", { type: "boolean", default: false, describe: "skip assets outside the placement table instead of refusing the bundle" })
      .option("expect-sha256", { type: "string", requiresArg: true, coerce: sha256Digest("expect-sha256"), describe: "the bundle's sha256 as Terraform computes it; anything else is refused (exit 65) before any change" }),
  );
  return declared as unknown as Argv<PlanArgs>;
}

function applyBuilder(yargs: Argv<object>): Argv<ApplyArgs> {
  return planBuilder(yargs)
    .option("dry-run", { type: "boolean", default: false, describe: "print the plan and stop (same as `typhoon-agent plan`)" })
    .option("start", { type: "boolean", default: true, describe: "systemctl daemon-reload and enable --now kubelet.service afterwards (--no-start skips; never under --root)" })
    .option("keep-bundle", { type: "boolean", default: false, describe: "keep the bundle file (it holds every secret; removed after a successful apply by default)" })
    .option("lock-wait", { type: "string", requiresArg: true, default: 30, coerce: seconds("lock-wait"), describe: `seconds to wait for another apply to finish, or for the upload still writing the bundle, then exit 75 (0 to ${MAX_WAIT_SECONDS} seconds)` }) as unknown as Argv<ApplyArgs>;
}

/** plan is apply --dry-run: what it does not read takes the value a dry run never uses. */
function asDryRun(args: PlanArgs): ApplyArgs {
  return { ...args, "dry-run": true, start: false, "keep-bundle": true, "lock-wait": 0 };
}

async function handler(args: ApplyArgs): Promise<void> {
  // An apply catches SIGTERM, SIGINT and SIGHUP from its first step, reading the
  // configuration, so an interrupted one still ends in an "apply failed" entry and a result.
  const signals = args["dry-run"] ? undefined : (await import("../transaction/guard.ts")).catchSignals();
  try {
    await applyOrPlan(args);
  } finally {
    signals?.release();
  }
}

async function applyOrPlan(args: ApplyArgs): Promise<void> {
  // Loaded on use: every command pays the start-up cost of what it imports.
  const [{ runApply, refusedApply }, { loadConfig }, { HostRoot }, { createJournal }, { nodeFilesFor }] = await Promise.all([
    import("../apply/apply.ts"),
    import("../config/load.ts"),
    import("../hostfs/host-root.ts"),
    import("../journal/journal.ts"),
    import("../units/node-files.ts"),
  ]);
  const host = new HostRoot(args.root);
  const events = args["dry-run"] ? SILENT : createJournal({ verbose: args.verbose, saidByCommand: SAID_BY_APPLY });
  // A configuration that does not load still gets its failed run into the default directory.
  let metricsDirectory = TEXTFILE_COLLECTOR_DIRECTORY;
  let outcome: ApplyOutcome;
  try {
    const { config, origins, source } = loadConfig({ root: host.root, configPath: args.config, flags: flagsFromArgs(args) });
    metricsDirectory = config.textfile_collector_dir;
    if (config.role === "worker" && args.bundle !== undefined) {
      throw new UsageError("a worker takes no bundle: the asset bundle is for controllers", "run `typhoon-agent apply` without a bundle on workers, or set role: controller");
    }
    if (config.role === "controller" && args.bundle === undefined) {
      throw new UsageError("a controller needs the asset bundle", `typhoon-agent apply ${BUNDLE_PATH} (or set role: worker)`);
    }
    const { runtime, rendered } = nodeFilesFor(config, host.root);
    outcome = await runApply(
      {
        host,
        bundle: args.bundle,
        config,
        roleOrigin: origins.role === "flag" ? "--role" : origins.role === "file" ? `role in ${source}` : "the default role",
        changeRole: args["change-role"],
        runtime,
        rendered,
        dryRun: args["dry-run"],
        startKubelet: args.start && host.isRealRoot,
        keepBundle: args["keep-bundle"],
        allowUnknown: args["allow-unknown"],
        expectSha256: args["expect-sha256"],
        lockWaitSeconds: args["lock-wait"],
      },
      events,
    );
  } catch (error) {
    if (!(error instanceof AgentError)) throw error;
    outcome = { result: refusedApply(host, args["dry-run"], error, events), failure: error };
  }
  // plan writes nothing, not even metrics.
  if (!args["dry-run"]) (await import("../metrics/publish.ts")).publishApplyMetrics(host, metricsDirectory, outcome.result, events);
  await show(outcome.result, args, outcome.failure);
  if (outcome.failure !== undefined) throw outcome.failure;
}

async function show(result: ApplyResult, args: ApplyArgs, failure: AgentError | undefined): Promise<void> {
  if (args.json) {
    const document = JSON.stringify(result, null, 2);
    if (result.outcome === "planned") print(document);
    // A failed run's own error (its exit code and hint) outranks the document it could not print.
    else if (failure !== undefined) sayDone(document);
    else printDone(document, "apply", ` for its report: ${RESULT_FILE} holds it`);
    return;
  }
  for (const warning of result.warnings) say(`warning: ${warning}`);
  if (result.outcome === "failed") return;
  const { formatPlanTable, summaryLine } = await import("../report/plan-table.ts");
  if (result.outcome === "planned") print(formatPlanTable(result, { showUnchanged: args.verbose }));
  else sayDone(summaryLine(result) + (result.backup === undefined ? "" : `; backup ${result.backup}`));
}

export const applyCommand: CommandModule<object, ApplyArgs> = {
  command: "apply [bundle]",
  describe: "Install the bundle and the kubelet units as one transaction, then start the kubelet",
  builder: (yargs) =>
    applyBuilder(yargs)
      .example(`$0 apply ${BUNDLE_PATH}`, "what typhoon-agent.service runs on a controller at first boot")
      .example("$0 apply --role worker", "a worker: kubelet.service and kubelet.yaml only")
      .example("$0 apply assets --root /tmp/node --no-start --json", "install into a scratch tree, report as JSON")
      .epilogue(exitCodeHelp()),
  handler,
};

export const planCommand: CommandModule<object, PlanArgs> = {
  command: "plan [bundle]",
  describe: "Show what apply would do to every path, changing nothing",
  builder: (yargs) =>
    planBuilder(yargs)
      .example(`$0 plan ${BUNDLE_PATH}`, "create / replace / repair / remove / unchanged, with owner, mode and size")
      .example("$0 plan assets --json", "the same as JSON")
      .epilogue(exitCodeHelp()),
  handler: (args) => handler(asDryRun(args)),
};
