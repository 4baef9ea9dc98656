import type { Argv, CommandModule } from "yargs";
import type { RollbackResult } from "../apply/rollback.ts";
import { ROOT_OPTION } from "../config/options.ts";
import { exitCodeHelp } from "../errors.ts";
import { printDone, sayDone } from "../report/console.ts";
import { MAX_WAIT_SECONDS, seconds } from "./option-checks.ts";

interface RollbackArgs {
  root: string;
  json: boolean;
  start: boolean;
  "lock-wait": number;
  verbose: boolean;
}

/** The summary line says what these entries say; the journal still gets them. */
const SAID_BY_ROLLBACK = ["rolledBack", "kubeletStarted"] as const;

export const rollbackCommand: CommandModule<object, RollbackArgs> = {
  command: "rollback",
  describe: "Undo the last apply from its backup (newest first; each backup is used once)",
  builder: (yargs) =>
    (yargs as Argv<object>)
      .option("root", ROOT_OPTION)
      .option("json", { type: "boolean", default: false, describe: "print the result as JSON on standard output" })
      .option("start", { type: "boolean", default: true, describe: "when kubelet.service or kubelet.yaml was restored, systemctl daemon-reload and restart the kubelet (--no-start skips; never under --root)" })
      .option("lock-wait", { type: "string", requiresArg: true, default: 30, coerce: seconds("lock-wait"), describe: `seconds to wait for a running apply, then exit 75 (0 to ${MAX_WAIT_SECONDS} seconds)` })
      .example("$0 rollback", "restore what the last apply replaced or removed, remove what it created")
      .example("$0 rollback --root /tmp/node", "the same in a scratch tree")
      .epilogue(exitCodeHelp()) as Argv<RollbackArgs>,
  handler: async (args) => {
    const [{ runRollback }, { HostRoot }, { createJournal }] = await Promise.all([
      import("../apply/rollback.ts"),
      import("../hostfs/host-root.ts"),
      import("../journal/journal.ts"),
    ]);
    const host = new HostRoot(args.root);
    const result = await runRollback(host, createJournal({ verbose: args.verbose, saidByCommand: SAID_BY_ROLLBACK }), { lockWaitSeconds: args["lock-wait"], settleKubelet: args.start && host.isRealRoot });
    if (args.json) printDone(JSON.stringify(result, null, 2), "rollback", ": that would undo the apply before it too; the journal holds its report (journalctl SYSLOG_IDENTIFIER=typhoon-agent)");
    else sayDone(summary(result));
  },
};

function summary(result: RollbackResult): string {
  if (result.backup === undefined) {
    const then = result.next === undefined ? "no backup of an earlier apply is left to roll back to" : `the apply before it is in effect; run typhoon-agent rollback again to undo that one as well, from ${result.next}`;
    return `rolled back the interrupted apply ${result.recovered?.id} and stopped: ${then}`;
  }
  return `rolled back ${result.backup}: ${result.restored.length} restored, ${result.removed.length} removed in ${result.durationMs} ms${result.kubelet === undefined ? "" : `; kubelet.service: ${result.kubelet}`}`;
}
