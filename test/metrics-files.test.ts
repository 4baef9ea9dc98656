// The textfile collector files the compiled agent writes under --root: every installed
// certificate's series with what openssl reads from it, promtool's lint on every file, modes
// whatever the umask, the write seen by strace as temp file, fsync, rename, and what an
// operator gets when the file cannot be written or verify cannot check.

import { createHash } from "node:crypto";
import { execFileSync, execSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { AGENT, runAgent } from "./helpers/agent-binary.ts";
import { series, type ParsedSample } from "./helpers/exposition.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { TEXTFILE_DIR, installedCertificates, metricsFile, readMetrics } from "./helpers/metrics.ts";
import { tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log("metrics file tests skipped: the installed tree is owned by etcd and nobody, which needs root");
const rootTest = isRoot ? test : test.skip;
const promtoolMissing = spawnable("promtool") ? undefined : "promtool is not installed (Debian package prometheus)";
if (promtoolMissing !== undefined) console.log(`promtool checks skipped: ${promtoolMissing}`);
const straceMissing = spawnable("strace") ? undefined : "strace is not installed";
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const VERIFY = "typhoon_agent_verify.prom";
const APPLY = "typhoon_agent_apply.prom";

function spawnable(program: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

let installed: string;
/** A copy of the bundle the first apply consumed. */
let bundleCopy: string;
let bundleSha256: string;

beforeAll(async () => {
  if (!isRoot) return;
  installed = makeHost();
  await writeSampleBundle(`${installed}/home/core/assets`);
  bundleCopy = path.join(tempDir("typhoon-bundle-"), "assets");
  fs.copyFileSync(`${installed}/home/core/assets`, bundleCopy);
  bundleSha256 = createHash("sha256").update(fs.readFileSync(bundleCopy)).digest("hex");
  const apply = await runAgent(["apply", `${installed}/home/core/assets`, "--root", installed, "--no-start"], QUIET);
  if (apply.exitCode !== 0) throw new Error(`apply failed: ${apply.stderr}`);
  const verify = await runAgent(["verify", "--root", installed], QUIET);
  if (verify.exitCode !== 0) throw new Error(`verify failed: ${verify.stderr}`);
}, 60_000);

function copyOf(root: string): string {
  const copy = path.join(tempDir("typhoon-metrics-"), "root");
  execSync(`cp -a ${root} ${copy}`);
  return copy;
}

const one = (samples: ParsedSample[], name: string, labels: Record<string, string>): ParsedSample[] =>
  series(samples, name).filter((sample) => Object.entries(labels).every(([label, value]) => sample.labels[label] === value));

describe("the verify file", () => {
  rootTest("every installed certificate has its x509 series, with the NotAfter, serial and names openssl reads", () => {
    const samples = readMetrics(installed, VERIFY);
    const certificates = installedCertificates(installed);
    expect(certificates.length).toBe(13);
    for (const certificate of certificates) {
      const labels = { filepath: certificate.filepath, embedded_key: certificate.user };
      const notAfter = one(samples, "x509_cert_not_after", labels);
      expect(notAfter, `${certificate.filepath} ${certificate.user}`).toHaveLength(1);
      expect(notAfter[0]!.value).toBe(certificate.notAfter);
      expect(notAfter[0]!.labels).toMatchObject({
        filename: path.basename(certificate.filepath),
        embedded_kind: certificate.user === "" ? "" : "user",
        serial_number: certificate.serialDecimal,
        subject_CN: certificate.subjectCN,
        issuer_CN: certificate.issuerCN,
      });
      expect(one(samples, "x509_cert_not_before", labels).map((sample) => sample.value)).toEqual([certificate.notBefore]);
      expect(one(samples, "x509_cert_expired", labels).map((sample) => sample.value)).toEqual([0]);
      expect(one(samples, "x509_cert_error", labels).map((sample) => sample.value)).toEqual([0]);
    }
    expect(series(samples, "x509_cert_not_after")).toHaveLength(certificates.length);
    expect(series(samples, "typhoon_agent_verify_exit_code").map((sample) => sample.value)).toEqual([0]);
    expect(series(samples, "typhoon_agent_verify_outcome").map((sample) => [sample.labels.outcome, sample.value])).toEqual([["ok", 1], ["failed", 0]]);
    expect(series(samples, "typhoon_agent_verify_findings").map((sample) => [sample.labels.severity, sample.value])).toEqual([["error", 0], ["warning", 0]]);
  });

  rootTest("the run's own series: when it checked and how long it took", async () => {
    const root = copyOf(installed);
    const before = Date.now() / 1000;
    expect((await runAgent(["verify", "--root", root], QUIET)).exitCode).toBe(0);
    const samples = readMetrics(root, VERIFY);
    const lastRun = series(samples, "typhoon_agent_verify_last_run_timestamp_seconds")[0]!.value;
    expect(lastRun).toBeGreaterThanOrEqual(Math.floor(before));
    expect(lastRun).toBeLessThanOrEqual(Date.now() / 1000);
    const duration = series(samples, "typhoon_agent_verify_duration_seconds")[0]!.value;
    expect(duration).toBeGreaterThan(0);
    expect(duration).toBeLessThan(Date.now() / 1000 - before + 1);
  });

  rootTest("a certificate that does not match its key, and one that is no certificate: x509_cert_error, and the findings", async () => {
    const root = copyOf(installed);
    fs.copyFileSync(`${root}/etc/kubernetes/pki/aggregation-client.key`, `${root}/etc/kubernetes/pki/apiserver.key`);
    fs.writeFileSync(`${root}/etc/ssl/etcd/etcd/peer.crt`, "not a certificate\n");
    expect((await runAgent(["verify", "--root", root], QUIET)).exitCode).toBe(1);
    const samples = readMetrics(root, VERIFY);
    const broken = series(samples, "x509_cert_error").filter((sample) => sample.value === 1);
    expect(broken.map((sample) => sample.labels.filepath).sort()).toEqual(["/etc/kubernetes/pki/apiserver.crt", "/etc/ssl/etcd/etcd/peer.crt"]);
    // The unreadable one has only its file to be named by, and no NotAfter.
    expect(broken.find((sample) => sample.labels.filepath === "/etc/ssl/etcd/etcd/peer.crt")!.labels).toEqual({ filename: "peer.crt", filepath: "/etc/ssl/etcd/etcd/peer.crt" });
    expect(one(samples, "x509_cert_not_after", { filepath: "/etc/ssl/etcd/etcd/peer.crt" })).toEqual([]);
    expect(series(samples, "typhoon_agent_verify_exit_code")[0]!.value).toBe(1);
    expect(series(samples, "typhoon_agent_verify_findings").map((sample) => [sample.labels.severity, sample.value])).toEqual([["error", 2], ["warning", 0]]);
  });

  rootTest("verify that stops before checking (no install record): exit 66 in the file, and no certificate or finding series", async () => {
    const root = copyOf(installed);
    fs.rmSync(`${root}/var/lib/typhoon-agent/installed.json`);
    expect((await runAgent(["verify", "--root", root], QUIET)).exitCode).toBe(66);
    const samples = readMetrics(root, VERIFY);
    expect(series(samples, "typhoon_agent_verify_exit_code")[0]!.value).toBe(66);
    expect(one(samples, "typhoon_agent_verify_outcome", { outcome: "failed" })[0]!.value).toBe(1);
    expect(samples.filter((sample) => sample.name.startsWith("x509_") || sample.name === "typhoon_agent_verify_findings")).toEqual([]);
  });
});

describe("the apply file", () => {
  rootTest("applied, then unchanged, then failed: outcome, exit code, and the bundle the node holds all along", async () => {
    const root = copyOf(installed);
    const first = readMetrics(root, APPLY);
    expect(one(first, "typhoon_agent_apply_outcome", { outcome: "applied" })[0]!.value).toBe(1);
    expect(series(first, "typhoon_agent_bundle_info").map((sample) => [sample.labels, sample.value])).toEqual([[{ sha256: bundleSha256 }, 1]]);

    fs.copyFileSync(bundleCopy, `${root}/home/core/assets`);
    const again = await runAgent(["apply", `${root}/home/core/assets`, "--root", root], QUIET);
    expect(again.exitCode).toBe(0);
    const unchanged = readMetrics(root, APPLY);
    expect(series(unchanged, "typhoon_agent_apply_outcome").map((sample) => [sample.labels.outcome, sample.value])).toEqual([["applied", 0], ["unchanged", 1], ["failed", 0]]);

    fs.writeFileSync(`${root}/home/core/assets`, "not a bundle\n");
    expect((await runAgent(["apply", `${root}/home/core/assets`, "--root", root], QUIET)).exitCode).toBe(65);
    const failed = readMetrics(root, APPLY);
    expect(series(failed, "typhoon_agent_apply_exit_code")[0]!.value).toBe(65);
    expect(one(failed, "typhoon_agent_apply_outcome", { outcome: "failed" })[0]!.value).toBe(1);
    expect(series(failed, "typhoon_agent_bundle_info")[0]!.labels.sha256).toBe(bundleSha256);
    expect(series(failed, "typhoon_agent_apply_duration_seconds")[0]!.value).toBeGreaterThan(0);
  });

  rootTest("a worker names no bundle; plan writes nothing", async () => {
    const root = makeHost();
    expect((await runAgent(["plan", "--role", "worker", "--root", root], QUIET)).exitCode).toBe(0);
    expect(fs.existsSync(`${root}/var/lib/node_exporter`)).toBe(false);
    expect((await runAgent(["apply", "--role", "worker", "--root", root], QUIET)).exitCode).toBe(0);
    const samples = readMetrics(root, APPLY);
    expect(series(samples, "typhoon_agent_apply_exit_code")[0]!.value).toBe(0);
    expect(series(samples, "typhoon_agent_bundle_info")).toEqual([]);
  });
});

describe("writing the files", () => {
  rootTest.skipIf(promtoolMissing !== undefined)("promtool check metrics accepts every file the agent writes, warnings and failures included", async () => {
    const root = copyOf(installed);
    const files = [metricsFile(installed, VERIFY), metricsFile(installed, APPLY)];
    fs.chmodSync(`${root}/etc/kubernetes/pki/admin.conf`, 0o644);
    expect((await runAgent(["verify", "--root", root], QUIET)).exitCode).toBe(1);
    fs.writeFileSync(`${root}/home/core/assets`, "not a bundle\n");
    expect((await runAgent(["apply", `${root}/home/core/assets`, "--root", root], QUIET)).exitCode).toBe(65);
    files.push(metricsFile(root, VERIFY), metricsFile(root, APPLY));
    for (const file of files) {
      const lint = execFileSync("sh", ["-c", 'promtool check metrics < "$1" 2>&1; echo "exit $?"', "sh", file], { encoding: "utf8" });
      expect(lint, file).toBe("exit 0\n");
    }
  });

  rootTest("files 0644 and the directories made for them 0755, whatever the umask", async () => {
    const root = makeHost();
    const result = execFileSync("sh", ["-c", 'umask 077; "$0" apply --role worker --root "$1" >/dev/null 2>&1; "$0" verify --role worker --root "$1" >/dev/null 2>&1; echo $?', AGENT, root], {
      encoding: "utf8",
      env: { ...process.env, TYPHOON_AGENT_JOURNAL: "stderr" },
    });
    expect(result.trim()).toBe("0");
    const mode = (relative: string): string => (fs.statSync(path.join(root, relative)).mode & 0o7777).toString(8);
    expect(mode("var/lib/node_exporter")).toBe("755");
    expect(mode(TEXTFILE_DIR.slice(1))).toBe("755");
    expect(mode(`${TEXTFILE_DIR.slice(1)}/${APPLY}`)).toBe("644");
    expect(mode(`${TEXTFILE_DIR.slice(1)}/${VERIFY}`)).toBe("644");
    expect(fs.readdirSync(path.join(root, TEXTFILE_DIR)).sort()).toEqual([APPLY, VERIFY]);
  });

  rootTest.skipIf(straceMissing !== undefined)("written under a hidden temporary name, flushed, then renamed over the file: never opened in place", async () => {
    const root = copyOf(installed);
    const log = path.join(tempDir("typhoon-strace-"), "trace");
    execFileSync("strace", ["-f", "-qq", "-e", "trace=openat,fsync,rename,renameat,renameat2", "-o", log, AGENT, "verify", "--root", root], { env: { ...process.env, TYPHOON_AGENT_JOURNAL: "stderr" }, stdio: "ignore" });
    const target = metricsFile(root, VERIFY);
    const calls = fs.readFileSync(log, "utf8").split("\n").filter((line) => line.includes(path.dirname(target)) || /fsync\(/.test(line));
    expect(calls.filter((line) => line.includes(`"${target}"`) && /openat\(/.test(line))).toEqual([]);
    const open = calls.findIndex((line) => /openat\(.*\/\.typhoon_agent_verify\.prom\.\d+\.tmp", (?=\S*O_CREAT)(?=\S*O_EXCL)(?=\S*O_NOFOLLOW)O_WRONLY/.test(line));
    const rename = calls.findIndex((line) => /rename(at2?)?\(.*\/\.typhoon_agent_verify\.prom\.\d+\.tmp", .*"[^"]*\/typhoon_agent_verify\.prom"/.test(line));
    expect(open, calls.join("\n")).toBeGreaterThanOrEqual(0);
    expect(rename, calls.join("\n")).toBeGreaterThan(open);
    expect(calls.slice(open, rename).some((line) => /fsync\(/.test(line)), "flushed before the rename").toBe(true);
    expect(fs.readdirSync(path.dirname(target)).filter((name) => name.startsWith("."))).toEqual([]);
  });

  rootTest("a link on the way to the directory is followed as the node would, inside --root, never out of it", async () => {
    const root = makeHost();
    // Climbs one level above the root: the kernel would follow it to a sibling of the root;
    // on the node, .. stops at /, and so does the path layer below --root.
    const escaped = `${path.basename(root)}-escaped`;
    fs.mkdirSync(`${root}/var/lib`, { recursive: true });
    fs.symlinkSync(`../../../${escaped}`, `${root}/var/lib/node_exporter`);
    try {
      const result = await runAgent(["apply", "--role", "worker", "--root", root], QUIET);
      expect(result.exitCode, result.stderr as string).toBe(0);
      expect(result.stderr).not.toContain("metrics not written");
      expect(fs.readdirSync(`${root}/${escaped}/textfile_collector`)).toEqual([APPLY]);
      expect(fs.lstatSync(`${root}/var/lib/node_exporter`).isSymbolicLink()).toBe(true);
      expect(fs.existsSync(path.join(path.dirname(root), escaped))).toBe(false);
    } finally {
      fs.rmSync(path.join(path.dirname(root), escaped), { recursive: true, force: true });
    }
  });

  rootTest('textfile_collector_dir "" in agent.yaml writes nothing; an empty flag value is a usage error, never "none"', async () => {
    const root = makeHost();
    fs.mkdirSync(`${root}/etc/typhoon`, { recursive: true });
    fs.writeFileSync(`${root}/etc/typhoon/agent.yaml`, 'role: worker\ntextfile_collector_dir: ""\n');
    expect((await runAgent(["apply", "--root", root], QUIET)).exitCode).toBe(0);
    expect((await runAgent(["verify", "--root", root], QUIET)).exitCode).toBe(0);
    expect(fs.existsSync(`${root}/var/lib/node_exporter`)).toBe(false);
    // An unset variable in `--textfile-collector-dir "$DIR"` must not switch the metrics off unnoticed.
    const flag = await runAgent(["verify", "--root", root, "--textfile-collector-dir", ""], QUIET);
    expect({ exitCode: flag.exitCode, stderr: flag.stderr }).toMatchObject({ exitCode: 2, stderr: expect.stringContaining("--textfile-collector-dir") });
  });

  rootTest("a directory that cannot be written: the exit code stands, a warning and a 'metrics not written' entry say why", async () => {
    const root = copyOf(installed);
    fs.rmSync(`${root}/var/lib/node_exporter`, { recursive: true });
    fs.writeFileSync(`${root}/var/lib/node_exporter`, "a file where the directory belongs\n");
    for (const args of [["verify"], ["apply", "--role", "worker", "--change-role"]]) {
      const result = await runAgent([...args, "--root", root], QUIET);
      expect(result.exitCode, result.stderr as string).toBe(0);
      expect(result.stderr).toContain("typhoon-agent: warning: metrics not written: /var/lib/node_exporter is not a directory");
      expect(result.stderr).toMatch(/^<4>typhoon-agent could not write its metrics to \/var\/lib\/node_exporter\/textfile_collector\/typhoon_agent_(verify|apply)\.prom: .* path=\/var\/lib\/node_exporter\/textfile_collector\/typhoon_agent_(verify|apply)\.prom/m);
    }
  });
});
