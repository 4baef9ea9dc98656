// `npm run bench`: every figure is a ratio of contenders measured side by side in this
// run (interleaved, median of repeated runs). Prints one table; `--json` prints JSON.
//
//   bun scripts/bench.ts [--json] [--quick] [--only startup,unpack]

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { Row } from "./bench/section.ts";
import { benchSections } from "./bench/sections.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
  },
});

const work = fs.mkdtempSync(path.join(os.tmpdir(), "typhoon-bench-"));
const selected = values.only?.split(",");
const rows: Row[] = [];
try {
  for (const section of benchSections) {
    if (selected !== undefined && !selected.includes(section.id)) continue;
    if (!values.json) process.stderr.write(`measuring ${section.title} ...\n`);
    rows.push(...(await section.run({ work, quick: values.quick })));
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

const machine = { cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release() };
if (values.json) {
  console.log(JSON.stringify({ machine, rows }, null, 2));
} else {
  console.log(`machine: ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}`);
  console.log(formatTable(rows));
}

function formatTable(table: readonly Row[]): string {
  const header = ["measure", "agent", "baseline", "ratio", "target", ""];
  const lines = table.map((row) => [
    row.measure,
    row.agent,
    row.baseline,
    row.ratio === undefined ? "" : `${row.ratio.toFixed(2)}x`,
    row.target ?? "",
    row.met === undefined ? "" : row.met ? "ok" : "MISSED",
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const render = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`;
  return [render(header), render(widths.map((width) => "-".repeat(width))), ...lines.map(render)].join("\n");
}
