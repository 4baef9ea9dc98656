// The README's configuration, mounts, journal and exit-code tables are the code's tables:
// rendered here from CONFIG_KEY_LIST, KUBELET_MOUNTS, EVENTS and EXIT_CODES and compared with
// the README, so none drifts.
// On a mismatch the expected table is in the failure, ready to paste.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { CONFIG_KEY_LIST, describeDefault, flagName } from "../agent/config/keys.ts";
import { EXIT_CODES } from "../agent/errors.ts";
import { EVENTS } from "../agent/report/events.ts";
import { KUBELET_MOUNTS } from "../agent/units/mounts.ts";

const README = fs.readFileSync(path.resolve(import.meta.dir, "../README.md"), "utf8");

function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  expect(start, `README has no "${heading}" section`).toBeGreaterThanOrEqual(0);
  const end = README.indexOf("\n## ", start + heading.length + 2);
  return README.slice(start, end < 0 ? undefined : end);
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

describe("README tables", () => {
  test("the configuration keys", () => {
    const expected = table(
      ["key", "flag", "default", "accepted values", "what it sets"],
      CONFIG_KEY_LIST.map((key) => [`\`${key.name}\``, `\`--${flagName(key.name)}\``, describeDefault(key), key.form, key.description]),
    );
    expect(section("## Configuration (/etc/typhoon/agent.yaml)")).toContain(expected);
  });

  test("the kubelet's host mounts", () => {
    const expected = table(
      ["host path", "in the container", "access", "runtimes", "why"],
      KUBELET_MOUNTS.map((mount) => [
        `\`${mount.host}\``,
        mount.container === mount.host ? "same" : `\`${mount.container}\``,
        [
          mount.readOnly ? "read-only" : "read-write",
          ...(mount.propagation === "rshared" ? ["rshared"] : []),
          ...(mount.selinuxRelabel ? ["relabel `z` (podman)"] : []),
          ...(mount.createOnHost ? ["created first"] : []),
        ].join(", "),
        (mount.runtimes ?? ["all"]).join(", "),
        mount.why,
      ]),
    );
    expect(section("## kubelet.service")).toContain(expected);
  });

  test("the exit codes", () => {
    const expected = table(
      ["code", "meaning", "when"],
      Object.entries(EXIT_CODES).map(([code, { meaning, when }]) => [code, meaning, when]),
    );
    expect(section("## Exit codes")).toContain(expected);
  });

  test("the journal's MESSAGE_IDs", () => {
    const reporting = section("## Reporting (systemd journal)");
    for (const event of Object.values(EVENTS)) {
      expect(reporting, event.title).toMatch(new RegExp(`\\| \`${event.messageId}\` \\| ${event.title} \\| ${event.priority}\\b`));
    }
  });
});
