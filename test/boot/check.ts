// Checks what a boot left against test/boot/expectations.ts, and a few rules that hold for
// every boot: systemd had nothing to say about our units, the journal catalog compiles where
// it was placed, and no line of a private key reached the journal (docs/design.md, "The journal").

import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { EVENTS } from "../../agent/report/events.ts";
import { fileExpectations, journalExpectations, type BootFacts, type FileExpectation } from "./expectations.ts";
import { entriesMatching, journalText, readJournal, type JournalEntry } from "./journal.ts";
import type { BootResult } from "./machine.ts";
import { run } from "./run.ts";

export interface CheckedBoot {
  /** One line per unmet expectation; empty when the boot did everything. */
  problems: string[];
  entries: JournalEntry[];
}

/** Also writes the journal, as a person reads it, to `journalDump`. */
export async function checkBoot(result: BootResult, facts: BootFacts, journalDump: string): Promise<CheckedBoot> {
  fs.writeFileSync(journalDump, await journalText(result.journal));
  const entries = await readJournal(result.journal);
  const problems: string[] = [];
  for (const expectation of fileExpectations(facts)) {
    const problem = fileProblem(result.tree, expectation) ?? (await labelProblem(result, expectation));
    if (problem !== undefined) problems.push(`${expectation.path}: ${problem}`);
  }
  for (const expectation of journalExpectations(facts)) {
    const found = entriesMatching(entries, expectation.match).length > 0;
    if (found !== expectation.present) problems.push(`journal: ${expectation.present ? "missing" : "unexpected"}: ${expectation.what}`);
  }
  // systemd loads a unit with a line it does not understand, and only warns
  for (const entry of entries) {
    if (/typhoon-agent\.(service|path)[^:]*:\d+: /.test(entry.MESSAGE ?? "")) problems.push(`systemd about our units: ${entry.MESSAGE}`);
  }
  // Fedora CoreOS compiles the catalog at first boot; Debian, standing in, has no unit that
  // does, so the test compiles the machine's catalog directories itself (Flatcar's: the
  // image's /usr/lib/systemd/catalog, merged into the machine's /usr at boot)
  const catalogRoot = facts.catalogRoot ?? result.tree;
  await run("journalctl", [`--root=${catalogRoot}`, "--update-catalog"], { timeoutSeconds: 60 });
  const catalog = await run("journalctl", [`--root=${catalogRoot}`, "--list-catalog"], { timeoutSeconds: 60 });
  for (const event of Object.values(EVENTS)) {
    if (!catalog.output.includes(`${event.messageId} typhoon-agent: `)) problems.push(`catalog: no entry for ${event.title}`);
  }
  if (entries.some((entry) => Object.values(entry).some((value) => value.includes(facts.secretLine)))) {
    problems.push("journal: holds a line of a private key from the bundle");
  }
  return { problems, entries };
}

function fileProblem(tree: string, expectation: FileExpectation): string | undefined {
  const file = path.join(tree, expectation.path);
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  if (expectation.type === "absent") return stat === undefined ? undefined : "should not exist";
  if (stat === undefined) return "missing";
  const type = stat.isSymbolicLink() ? "symlink" : stat.isDirectory() ? "directory" : stat.isFile() ? "file" : "other";
  if (type !== expectation.type) return `is a ${type}, expected a ${expectation.type}`;
  const mode = stat.mode & 0o7777;
  if (expectation.mode !== undefined && mode !== expectation.mode) return `mode ${mode.toString(8)}, expected ${expectation.mode.toString(8)}`;
  if (expectation.uid !== undefined && stat.uid !== expectation.uid) return `owner uid ${stat.uid}, expected ${expectation.uid}`;
  if (expectation.gid !== undefined && stat.gid !== expectation.gid) return `group gid ${stat.gid}, expected ${expectation.gid}`;
  if (expectation.sha512 !== undefined && sha512(fs.readFileSync(file)) !== expectation.sha512) return "content differs";
  if (expectation.content !== undefined && fs.readFileSync(file, "utf8") !== expectation.content) return "content differs";
  const missing = expectation.contains?.find((text) => !fs.readFileSync(file, "utf8").includes(text));
  if (missing !== undefined) return `does not hold ${JSON.stringify(missing)}`;
  return undefined;
}

async function labelProblem(result: BootResult, expectation: FileExpectation): Promise<string | undefined> {
  if (expectation.selinuxLabel === undefined) return undefined;
  if (result.selinuxLabel === undefined) return "this boot has no SELinux to label it";
  const label = await result.selinuxLabel(expectation.path);
  return label === expectation.selinuxLabel ? undefined : `SELinux label ${label ?? "none"}, expected ${expectation.selinuxLabel}`;
}

export function sha512(bytes: Buffer): string {
  return createHash("sha512").update(bytes).digest("hex");
}
