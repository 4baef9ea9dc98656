// The event log commands use: every event becomes one structured journal entry
// (SYSLOG_IDENTIFIER=typhoon-agent, the event's fixed MESSAGE_ID, PRIORITY, the TYPHOON_*
// fields). Without a journal, or when a send fails, the event becomes one line on standard
// error instead (with -v, as well), prefixed with its priority the way sd-daemon(3) reads it:
//
//   <6>installed /etc/kubernetes/pki/ca.crt path=/etc/kubernetes/pki/ca.crt mode=0644 owner=root:root
//
// An event the command prints itself (apply's summary and error) goes to the journal only,
// unless TYPHOON_AGENT_JOURNAL=stderr asked for standard error as the journal.
//
// Callers pass messages and TYPHOON_* fields made of paths, modes, owners, digests and
// durations. Never pass the contents of an asset, or a diff of one: whatever is given here
// is kept in the journal for as long as the host keeps its logs.

import { writeAll } from "../fsio/write-all.ts";
import { EVENTS, type EventFields, type EventName, type Priority, type EventLog } from "../report/events.ts";
import { encodeEntry, type JournalField } from "./encode.ts";
import { sendToJournal } from "./native-socket.ts";

const SYSLOG_IDENTIFIER = "typhoon-agent";

interface JournalOptions {
  /**
   * "stderr" never touches the journal socket. Default: "stderr" when the environment has
   * TYPHOON_AGENT_JOURNAL=stderr (for tests, and for hosts where an operator wants the lines
   * on the terminal), otherwise "journal".
   */
  transport?: "journal" | "stderr";
  /** Where the stderr lines go; 2 unless a test passes a descriptor of its own. */
  fallbackFd?: number;
  /** -v: every event also goes to standard error as it happens, even when the journal took it. */
  verbose?: boolean;
  /**
   * Events the command prints itself (its summary, its error): they still reach the journal,
   * but not the fallback on standard error, so an operator reads each one once.
   */
  saidByCommand?: readonly EventName[];
}

export function createJournal(options: JournalOptions = {}): EventLog {
  const transport = options.transport ?? (process.env.TYPHOON_AGENT_JOURNAL === "stderr" ? "stderr" : "journal");
  const fallbackFd = options.fallbackFd ?? 2;
  const saidByCommand = new Set(options.saidByCommand ?? []);
  return {
    emit(event, message, fields = {}, priority = EVENTS[event].priority) {
      try {
        if (transport === "journal" && sendToJournal(encodeEntry(entryFields(event, message, fields, priority))) && options.verbose !== true) return;
      } catch {
        // An entry journald cannot take (a field name it would reject) still reaches stderr.
      }
      // TYPHOON_AGENT_JOURNAL=stderr makes standard error the journal: every entry goes there.
      if (transport === "journal" && saidByCommand.has(event)) return;
      try {
        writeAll(fallbackFd, Buffer.from(`${stderrLine(message, fields, priority)}\n`));
      } catch {
        // Logging never fails an apply: a closed standard error loses the line, nothing more.
      }
    },
  };
}

function entryFields(event: EventName, message: string, fields: EventFields, priority: Priority): JournalField[] {
  const entry: JournalField[] = [
    ["MESSAGE", message],
    ["MESSAGE_ID", EVENTS[event].messageId],
    ["PRIORITY", String(priority)],
    ["SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER],
  ];
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) entry.push([name, String(value)]);
  return entry;
}

/** `<priority>message key=value ...` on one line; keys are the field names without TYPHOON_, lowercased. */
function stderrLine(message: string, fields: EventFields, priority: Priority): string {
  let line = `<${priority}>${escapeControls(message)}`;
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${name.replace(/^TYPHOON_/, "").toLowerCase()}=${quoted(String(value))}`;
  }
  return line;
}

const CONTROL = /[\u0000-\u001f]/g;

/** Newlines and other control characters as JSON escapes (\n, \u001b), so an event stays one line. */
function escapeControls(text: string): string {
  return text.replace(CONTROL, (character) => JSON.stringify(character).slice(1, -1));
}

/** Bare when unambiguous, otherwise a JSON string: `a b` → `"a b"`, a newline → `\n`. */
function quoted(value: string): string {
  return value !== "" && !/[\s"\\\u0000-\u001f]/.test(value) ? value : JSON.stringify(value);
}
