// The files as their consumers meet them. node-exporter (the version Typhoon's addon runs)
// reads the directory the agent wrote and serves every series with no scrape error. The
// shipped rules, evaluated by promtool over the series of a real verify run whose apiserver
// certificate expires in 30 days, raise exactly one alert: the expiry warning for that file.

import { createPublicKey } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { dump } from "js-yaml";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { issue } from "../scripts/pki.ts";
import { REPO, runAgent } from "./helpers/agent-binary.ts";
import { parseExposition, series, type ParsedSample } from "./helpers/exposition.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { TEXTFILE_DIR, readMetrics } from "./helpers/metrics.ts";
import { tempDir } from "./helpers/tree.ts";

const NODE_EXPORTER = "prometheus-node-exporter";
const isRoot = process.getuid?.() === 0;
const missing = (program: string, pkg: string): string | undefined =>
  spawnSync(program, ["--version"]).error === undefined ? undefined : `${program} is not installed (Debian package ${pkg})`;
const nodeExporterSkip = !isRoot ? "needs root" : missing(NODE_EXPORTER, "prometheus-node-exporter");
const promtoolSkip = !isRoot ? "needs root" : missing("promtool", "prometheus");
for (const reason of [nodeExporterSkip, promtoolSkip]) if (reason !== undefined) console.log(`metrics consumer test skipped: ${reason}`);
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const PKI = "etc/kubernetes/pki";

let root: string;

beforeAll(async () => {
  if (!isRoot) return;
  root = makeHost();
  await writeSampleBundle(`${root}/home/core/assets`);
  expect((await runAgent(["apply", `${root}/home/core/assets`, "--root", root, "--no-start"], QUIET)).exitCode).toBe(0);
  // apiserver.crt re-issued by the installed CA for its own key, valid for 30 more days.
  const caKey = fs.readFileSync(`${root}/${PKI}/ca.key`, "utf8");
  const ca = { cert: fs.readFileSync(`${root}/${PKI}/ca.crt`, "utf8"), key: caKey, publicKey: createPublicKey(caKey).export({ type: "spki", format: "pem" }).toString() };
  const key = fs.readFileSync(`${root}/${PKI}/apiserver.key`, "utf8");
  const renewed = await issue({ subject: "/CN=kube-apiserver/O=system:masters", usage: "server", days: 30 }, { key, publicKey: createPublicKey(key).export({ type: "spki", format: "pem" }).toString() }, ca);
  fs.writeFileSync(`${root}/${PKI}/apiserver.crt`, renewed.cert);
  expect((await runAgent(["verify", "--root", root], QUIET)).exitCode).toBe(0);
}, 60_000);

let exporter: ReturnType<typeof spawn> | undefined;
afterAll(() => {
  exporter?.kill("SIGKILL");
});

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** node-exporter's /metrics, served from the textfile collector alone, on loopback. */
async function scrapeNodeExporter(directory: string): Promise<string> {
  const port = await freePort();
  exporter = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`, "--collector.disable-defaults", "--collector.textfile", `--collector.textfile.directory=${directory}`], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      if (response.ok) return await response.text();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await Bun.sleep(100);
  }
}

describe("node-exporter's textfile collector", () => {
  test.skipIf(nodeExporterSkip !== undefined)("reads both files without a scrape error and serves every series the agent wrote", async () => {
    const directory = path.join(root, TEXTFILE_DIR);
    const served = parseExposition((await scrapeNodeExporter(directory)).split("\n").filter((line) => !line.startsWith("go_") && !line.startsWith("process_") && !line.startsWith("promhttp_")).join("\n"));
    expect(series(served, "node_textfile_scrape_error").map((sample) => sample.value)).toEqual([0]);
    expect(series(served, "node_textfile_mtime_seconds").map((sample) => path.basename(sample.labels.file!)).sort()).toEqual(["typhoon_agent_apply.prom", "typhoon_agent_verify.prom"]);
    const written = [...readMetrics(root, "typhoon_agent_verify.prom"), ...readMetrics(root, "typhoon_agent_apply.prom")];
    for (const sample of written) {
      const match = served.filter((candidate) => candidate.name === sample.name && sameLabels(candidate.labels, sample.labels));
      expect(match.map((candidate) => candidate.value), `${sample.name} ${JSON.stringify(sample.labels)}`).toEqual([sample.value]);
    }
  });
});

/** Prometheus treats an empty label as an absent one, and so does this comparison. */
function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const present = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).filter(([, value]) => value !== "").sort());
  return present(a) === present(b);
}

describe("the shipped rules over a real verify run", () => {
  test.skipIf(promtoolSkip !== undefined)("apiserver.crt with 30 days left: the expiry warning for it, and no other alert", () => {
    const samples = readMetrics(root, "typhoon_agent_verify.prom");
    // promtool's clock starts at 0: every timestamp moves back by the run's, which no alert can tell.
    const shift = Math.round(series(samples, "typhoon_agent_verify_last_run_timestamp_seconds")[0]!.value);
    const target = { instance: "node1:9100", job: "node-exporter" };
    const shifted = (sample: ParsedSample): number => (/_timestamp_seconds$|^x509_cert_not_(after|before)$/.test(sample.name) ? sample.value - shift : sample.value);
    const apiserver = series(samples, "x509_cert_not_after").find((sample) => sample.labels.filepath === "/etc/kubernetes/pki/apiserver.crt")!;
    const expected = { alertname: "TyphoonCertificateExpiring", alertstate: "firing", severity: "warning", ...target, ...apiserver.labels };
    const work = tempDir("typhoon-promtool-");
    fs.writeFileSync(
      path.join(work, "real-run.test.yaml"),
      dump({
        rule_files: [path.join(REPO, "packaging/prometheus/typhoon-agent.yaml")],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "5m",
            input_series: samples.map((sample) => ({ series: seriesText(sample.name, { ...sample.labels, ...target }), values: `${shifted(sample)}+0x12` })),
            promql_expr_test: [{ expr: 'ALERTS{alertstate="firing"}', eval_time: "30m", exp_samples: [{ labels: seriesText("ALERTS", expected), value: 1 }] }],
          },
        ],
      }),
    );
    const result = spawnSync("promtool", ["test", "rules", "real-run.test.yaml"], { cwd: work, encoding: "utf8" });
    expect(result.stdout + result.stderr, result.stdout + result.stderr).toContain("SUCCESS");
    expect(result.status).toBe(0);
    expect(apiserver.value - shift).toBeGreaterThan(29 * 86400);
  });
});

/** A series in promtool's notation; labels Prometheus would drop (empty ones) left out. */
function seriesText(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels).filter(([, value]) => value !== "");
  return `${name}{${pairs.map(([label, value]) => `${label}=${JSON.stringify(value)}`).join(",")}}`;
}
