// The shipped alerting rules (packaging/prometheus/) with the real promtool: they load, their
// unit tests pass, they only query series the agent writes, their thresholds follow verify's,
// every runbook link lands on a README heading; and the README's metrics and alerts tables
// are the code's and the rules' own.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { describe, expect, test } from "vitest";
import { DEFAULT_WARN_DAYS } from "../agent/commands/verify.ts";
import { METRIC_FAMILIES, METRICS_FILE_NAMES } from "../agent/metrics/families.ts";
import { TEXTFILE_DIRECTORY_MODE } from "../agent/metrics/textfile.ts";
import { TEXTFILE_COLLECTOR_DIRECTORY } from "../agent/paths.ts";
import { agentFiles, DISTROS, literalText, sysextFiles, TMPFILES_PATH, type Distro } from "../packaging/agent-files.ts";
import { REPO } from "./helpers/agent-binary.ts";
import { tempDir } from "./helpers/tree.ts";

const RULES = path.join(REPO, "packaging/prometheus/typhoon-agent.yaml");
const RULE_TESTS = path.join(REPO, "packaging/prometheus/typhoon-agent.test.yaml");
const README = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
const RUNBOOK_BASE = "https://github.com/poseidon/typhoon-agent/blob/main/README.md#";

const promtoolMissing = spawnSync("promtool", ["--version"]).error === undefined ? undefined : "promtool is not installed (Debian package prometheus)";
if (promtoolMissing !== undefined) console.log(`promtool rule tests skipped: ${promtoolMissing}`);
const promtoolTest = promtoolMissing === undefined ? test : test.skip;
const kubectlMissing = spawnSync("kubectl", ["version", "--client"]).error === undefined ? undefined : "kubectl is not installed";
if (kubectlMissing !== undefined) console.log(`the ConfigMap command test skipped: ${kubectlMissing}`);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string; runbook_url: string };
}

const rules = (load(fs.readFileSync(RULES, "utf8")) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap((group) => group.rules);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#+ (.+)$/gm)].map((match) => match[1]!.toLowerCase().replace(/[^a-z0-9 _-]/g, "").replaceAll(" ", "-")));
}

describe("packaging/prometheus/typhoon-agent.yaml", () => {
  promtoolTest("promtool check rules accepts it", () => {
    const result = spawnSync("promtool", ["check", "rules", RULES], { encoding: "utf8" });
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(result.status).toBe(0);
  });

  promtoolTest("promtool test rules: every alert fires exactly when its unit tests say", () => {
    const result = spawnSync("promtool", ["test", "rules", path.basename(RULE_TESTS)], { cwd: path.dirname(RULE_TESTS), encoding: "utf8" });
    expect(result.stdout + result.stderr, result.stdout + result.stderr).toContain("SUCCESS");
    expect(result.status).toBe(0);
  });

  test("every alert has a unit test that sees it firing and one that sees it silent", () => {
    const tests = (load(fs.readFileSync(RULE_TESTS, "utf8")) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: Array<{ exp_labels: { severity: string } }> }> }> }).tests.flatMap((group) => group.alert_rule_test);
    for (const rule of rules) {
      const mine = tests.filter((check) => check.alertname === rule.alert);
      expect(mine.some((check) => check.exp_alerts.some((alert) => alert.exp_labels.severity === rule.labels.severity)), `${rule.alert} ${rule.labels.severity} firing`).toBe(true);
      expect(mine.some((check) => check.exp_alerts.length === 0), `${rule.alert} silent`).toBe(true);
    }
  });

  test("the rules query only series the agent writes", () => {
    const written = new Set<string>(Object.values(METRIC_FAMILIES).map((family) => family.name));
    for (const rule of rules) {
      const queried = rule.expr.match(/\b(?:x509|typhoon_agent)_[a-z_]+/g) ?? [];
      expect(queried.length, rule.alert).toBeGreaterThan(0);
      for (const name of queried) expect(written.has(name), `${rule.alert} queries ${name}`).toBe(true);
    }
  });

  test("the expiry warning starts at verify's default --warn-days; the certificate alerts never read the day-old x509_cert_expired", () => {
    const warning = rules.find((rule) => rule.alert === "TyphoonCertificateExpiring" && rule.labels.severity === "warning")!;
    expect(warning.expr).toContain(`x509_cert_not_after - time() < ${DEFAULT_WARN_DAYS} * 86400`);
    expect(warning.annotations.summary).toContain(`${DEFAULT_WARN_DAYS} days`);
    for (const rule of rules) expect(rule.expr).not.toContain("x509_cert_expired");
  });

  test("each alert has a summary, a description that says what to do, and a runbook on a README heading", () => {
    const headings = anchors(README);
    for (const rule of rules) {
      expect(rule.annotations.summary.length, rule.alert).toBeGreaterThan(10);
      expect(rule.annotations.description, rule.alert).toMatch(/\{\{ \$labels\.instance \}\}/);
      expect(rule.annotations.runbook_url.startsWith(RUNBOOK_BASE), rule.alert).toBe(true);
      const anchor = rule.annotations.runbook_url.slice(RUNBOOK_BASE.length);
      expect(anchor).toBe(rule.alert.toLowerCase());
      expect(headings.has(anchor), `README heading for #${anchor}`).toBe(true);
    }
  });
});

describe("README tables", () => {
  const section = README.slice(README.indexOf("\n## Metrics and alerts (Prometheus)\n"));

  test("the metrics", () => {
    const expected = table(
      ["metric", "file", "labels", "what"],
      Object.values(METRIC_FAMILIES).map((family) => [`\`${family.name}\``, `\`${METRICS_FILE_NAMES[family.file]}\``, family.labels, family.help]),
    );
    expect(section).toContain(expected);
  });

  test("the alerts", () => {
    const expected = table(
      ["alert", "severity", "for", "summary"],
      rules.map((rule) => [`[${rule.alert}](#${rule.alert.toLowerCase()})`, rule.labels.severity, rule.for ?? "at once", rule.annotations.summary]),
    );
    expect(section).toContain(expected);
  });
});

describe("packaging/README.md's way into the addon's prometheus-rules ConfigMap", () => {
  const CREATE = "kubectl -n monitoring create configmap prometheus-rules --dry-run=client -o yaml \\\n  --from-file=typhoon-agent.yaml=packaging/prometheus/typhoon-agent.yaml";

  test.skipIf(kubectlMissing !== undefined)("its patch adds the rules file as it is, as one more key, keeping the addon's own", () => {
    expect(fs.readFileSync(path.join(REPO, "packaging/README.md"), "utf8")).toContain(`${CREATE} | \\\n  kubectl -n monitoring patch configmap prometheus-rules --patch-file /dev/stdin`);
    const addon = path.join(tempDir("typhoon-configmap-"), "rules.yaml");
    fs.writeFileSync(addon, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prometheus-rules\n  namespace: monitoring\ndata:\n  etcd.yaml: '{\"groups\": []}'\n");
    // The same patch, applied locally (--local) to a copy of the addon's ConfigMap instead of the cluster's.
    const result = spawnSync("sh", ["-c", `${CREATE.replace("\\\n ", "")} | kubectl patch --local -f "$0" --patch-file /dev/stdin -o json`, addon], { cwd: REPO, encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    const patched = JSON.parse(result.stdout) as { data: Record<string, string> };
    expect(patched.data["typhoon-agent.yaml"]).toBe(fs.readFileSync(RULES, "utf8"));
    expect(patched.data["etcd.yaml"]).toBe('{"groups": []}');
  });
});

/** The units that write metrics, as each distro's nodes get them: placed by Ignition, or in the sysext image (Flatcar). */
function metricsUnits(): Array<readonly [string, string, string]> {
  const names = ["typhoon-agent.service", "typhoon-agent-verify.service"];
  return (Object.keys(DISTROS) as Distro[]).flatMap((distro) => {
    if (DISTROS[distro].delivery === "sysext") {
      return [...sysextFiles()].filter(([file]) => names.includes(path.basename(file))).map(([file, text]) => [distro, path.basename(file), text] as const);
    }
    return agentFiles(distro, "controller").units.flatMap((unit) => (names.includes(unit.name) && unit.contents !== undefined ? [[distro, unit.name, literalText(unit.contents)] as const] : []));
  });
}

test("every distro's nodes get both units that write metrics", () => {
  expect(metricsUnits().map(([distro, name]) => `${distro} ${name}`)).toEqual(
    Object.keys(DISTROS).flatMap((distro) => [`${distro} typhoon-agent.service`, `${distro} typhoon-agent-verify.service`]),
  );
});

test.each(metricsUnits())("%s: %s, read-only around it, may write the default textfile_collector_dir, and never makes it", (_distro, _name, unit) => {
  const setting = (name: string): string[] => [...unit.matchAll(new RegExp(`^${name}=(.*)$`, "gm"))].flatMap((match) => match[1]!.split(" "));
  expect(setting("ProtectSystem")).toEqual(["strict"]);
  expect(setting("ReadWritePaths")).toContain(`-${TEXTFILE_COLLECTOR_DIRECTORY}`);
  // A StateDirectory= there would chmod and chown it at every start, to one mode for all of them.
  expect(setting("StateDirectory").map((directory) => `/var/lib/${directory}`)).not.toContain(TEXTFILE_COLLECTOR_DIRECTORY);
});

// systemd-tmpfiles chowns to root, which takes root.
test.skipIf(process.getuid?.() !== 0)("the tmpfiles.d line Ignition places makes the directory, 0755 root's, as systemd-tmpfiles reads it", () => {
  for (const distro of Object.keys(DISTROS) as Distro[]) {
    for (const role of ["controller", "worker"] as const) {
      const placed = agentFiles(distro, role).files.filter((file) => file.path === TMPFILES_PATH);
      expect(placed.map((file) => file.mode), `${distro} ${role}`).toEqual([0o644]);
    }
  }
  const file = agentFiles("fedora-coreos", "controller").files.find((placed) => placed.path === TMPFILES_PATH)!;
  if (file.contents.kind !== "inline") throw new Error("the tmpfiles.d file is inline");
  const root = tempDir("typhoon-tmpfiles-");
  const config = path.join(tempDir("typhoon-tmpfiles-conf-"), "typhoon-agent.conf");
  fs.writeFileSync(config, literalText(file.contents.text));
  const result = spawnSync("systemd-tmpfiles", ["--create", `--root=${root}`, config], { encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stderr).toBe("");
  for (const directory of [path.dirname(TEXTFILE_COLLECTOR_DIRECTORY), TEXTFILE_COLLECTOR_DIRECTORY]) {
    const stat = fs.statSync(path.join(root, directory));
    expect([stat.isDirectory(), stat.mode & 0o7777, stat.uid, stat.gid], directory).toEqual([true, TEXTFILE_DIRECTORY_MODE, 0, 0]);
  }
});
