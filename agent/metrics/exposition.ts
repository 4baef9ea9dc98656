// The Prometheus text exposition format (version 0.0.4), which node-exporter's textfile
// collector reads: HELP and TYPE from the families table, then one line per sample, no
// timestamps (the collector refuses a file that has them).

import { METRIC_FAMILIES, type FamilyName } from "./families.ts";

export interface Sample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export type Samples = Partial<Record<FamilyName, readonly Sample[]>>;

/** Every family that has samples, in the table's order; a family without any is left out. */
export function exposition(samples: Samples): string {
  const blocks: string[] = [];
  for (const name of Object.keys(METRIC_FAMILIES) as FamilyName[]) {
    const family = METRIC_FAMILIES[name];
    const lines = samples[name];
    if (lines === undefined || lines.length === 0) continue;
    blocks.push(
      [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`, ...lines.map((sample) => `${family.name}${labelSet(sample.labels)} ${formatValue(sample.value)}`)].join("\n"),
    );
  }
  return blocks.length === 0 ? "" : `${blocks.join("\n")}\n`;
}

function labelSet(labels: Readonly<Record<string, string>> | undefined): string {
  const pairs = Object.entries(labels ?? {});
  return pairs.length === 0 ? "" : `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`;
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** A certificate's subject may hold any character; these three are the format's own. */
function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(value);
}
