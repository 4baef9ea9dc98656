// A booted machine's journal, read from its directory on the host (journalctl -D), one JSON
// object per entry. Tests match entries on the fields their senders set themselves
// (SYSLOG_IDENTIFIER, MESSAGE_ID, TYPHOON_*, systemd's UNIT), never on _SYSTEMD_UNIT:
// journald cannot attribute an entry to a unit once a short-lived sender has exited.

import { run } from "./run.ts";

export type JournalEntry = Readonly<Record<string, string>>;

/** journalctl's JSON: a string, bytes (an array of numbers) when not UTF-8, or an array when repeated. */
type JsonField = string | number[] | Array<string | number[]> | null;

function fieldText(value: JsonField): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (value.every((item) => typeof item === "number")) return Buffer.from(value as number[]).toString("latin1");
  return (value as Array<string | number[]>).map((item) => fieldText(item)).join("\n");
}

export async function readJournal(directory: string): Promise<JournalEntry[]> {
  const result = await run("journalctl", ["-D", directory, "--no-pager", "--quiet", "--output=json"], { timeoutSeconds: 120 });
  return result.output
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const raw = JSON.parse(line) as Record<string, JsonField>;
      return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, fieldText(value)]));
    });
}

/** Entries with every field of `match` equal. */
export function entriesMatching(entries: readonly JournalEntry[], match: Readonly<Record<string, string>>): JournalEntry[] {
  return entries.filter((entry) => Object.entries(match).every(([key, value]) => entry[key] === value));
}

/** The journal as a person reads it, for the test's work directory. */
export async function journalText(directory: string): Promise<string> {
  const result = await run("journalctl", ["-D", directory, "--no-pager", "--quiet", "--output=short-monotonic"], { timeoutSeconds: 120 });
  return result.output;
}
