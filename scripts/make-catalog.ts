// Writes packaging/typhoon-agent.catalog, the journal message catalog, from the event table
// in agent/report/events.ts: `bun scripts/make-catalog.ts`. The file is committed (packagers
// install it as /usr/lib/systemd/catalog/typhoon-agent.catalog, then run
// `journalctl --update-catalog`); a test fails when it no longer matches the table.
import * as fs from "node:fs";
import * as path from "node:path";
import { EVENTS } from "../agent/report/events.ts";

export const CATALOG_FILE = path.resolve(import.meta.dir, "../packaging/typhoon-agent.catalog");

const SUPPORT = "https://typhoon.psdn.io/";
const WIDTH = 78;

/** The whole catalog, in the format journalctl --update-catalog reads. */
export function renderCatalog(): string {
  const header = [
    "# Journal message catalog of typhoon-agent.",
    "# Generated from agent/report/events.ts by scripts/make-catalog.ts: edit those.",
  ];
  const entries = Object.values(EVENTS).map((event) =>
    [
      `-- ${event.messageId}`,
      `Subject: ${event.title[0]!.toUpperCase()}${event.title.slice(1)}`,
      "Defined-By: typhoon-agent",
      `Support: ${SUPPORT}`,
      "",
      ...wrap(event.explanation),
      "",
      ...wrap(event.action),
    ].join("\n"),
  );
  return `${[header.join("\n"), ...entries].join("\n\n")}\n`;
}

/** Greedy word wrap of each line of `text`; an indented line (a command) stays as it is. */
function wrap(text: string): string[] {
  return text.split("\n").flatMap((line) => (line.startsWith(" ") ? [line] : wrapLine(line)));
}

function wrapLine(text: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

if (import.meta.main) {
  fs.writeFileSync(CATALOG_FILE, renderCatalog());
  console.log(`wrote ${path.relative(process.cwd(), CATALOG_FILE)}`);
}
