// First boot of Typhoon controllers and a worker, end to end, with the real Ignition, systemd,
// journald, systemd-sysext, podman and docker (`npm run test:boot`, root only, two to three
// minutes; skipped by `npm test`). Debian systemd roots stand in for Fedora CoreOS and Flatcar,
// whose images cannot be downloaded here (test/boot/cache.ts). Everything Ignition places
// comes from packaging/fedora-coreos.ign (fedora-coreos-worker.ign for the worker,
// flatcar.ign for the Flatcar boot), rendered the way Terraform renders it.
//
//   nspawn  Ignition (fetch-offline, fetch, files) provisions a copy of the root on the host
//           and fetches the agent over HTTP from this test (127.0.0.1), verifying its
//           SHA-512; the machine boots in systemd-nspawn, the bundle is dropped after boot,
//           typhoon-agent.path starts typhoon-agent.service, kubelet.service starts (a stub).
//   worker  the same in nspawn from the worker config: no bundle, typhoon-agent.service (its
//           drop-in) renders the kubelet units at boot, kubelet.service starts (a stub).
//   rejected  as nspawn, but the first upload is a bundle apply rejects (65); after it failed,
//           a good bundle written over it in place must apply without anyone resetting a unit.
//   flatcar the Flatcar stand-in (docker.io) in nspawn: Ignition places the agent's sysext
//           image, systemd-sysext merges it at boot, its units start, the bundle dropped after
//           boot is applied and kubelet.service, rendered for docker, runs the stand-in kubelet
//           container (docker import, no registry).
//   qemu    the Fedora CoreOS way: the root as an ext4 disk, the config in QEMU's fw_cfg,
//           Ignition in the initrd, no network (so the binary is on the disk already), SELinux
//           on; the bundle is there at boot; kubelet.service starts a podman container.
// Each powers itself off after running typhoon-agent-verify.service once; the test reads the tree and the journal back and checks
// test/boot/expectations.ts. BOOT_TEST_KEEP=1 keeps the work directory; BOOT_TEST_CACHE
// moves the cache; `npm run test:boot -- -t nspawn` runs one boot.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { agentFiles, CONFIG_PATH, DISTROS, SYSEXT, type Distro, type Role } from "../packaging/agent-files.ts";
import { EVENTS } from "../agent/report/events.ts";
import { loadConfig } from "../agent/config/load.ts";
import { kubeletFlags } from "../agent/units/kubelet-service.ts";
import type { Word } from "../agent/units/systemd.ts";
import { buildSysext } from "../scripts/sysext.ts";
import { makeSampleAssets, renderTemplate, terraformBundle } from "../scripts/make-bundle.ts";
import { outputName, PACKAGING, renderTemplate as renderPackaging, type TemplateValues } from "../scripts/make-ignition.ts";
import { AGENT } from "./helpers/agent-binary.ts";
import { IGNITION, kernelAndInitrd, rootFilesystem, STAND_IN_KUBELET_IMAGE } from "./boot/cache.ts";
import { checkBoot, sha512 } from "./boot/check.ts";
import { installEtcd } from "./boot/etcd.ts";
import { startJobDone, type BootFacts } from "./boot/expectations.ts";
import { entriesMatching } from "./boot/journal.ts";
import { AWS_METADATA, bootNspawn, bootQemu, prepareRoot, runIgnition, type Boot, type BootResult } from "./boot/machine.ts";
import { run } from "./boot/run.ts";
import { serveBinary, type BinaryServer } from "./boot/serve.ts";

const ENABLED = process.env.TYPHOON_BOOT_TEST === "1";
const UPSTREAM_RESOURCES = path.join(import.meta.dir, "fixtures/upstream/terraform-render-bootstrap/resources");
const BINARY = DISTROS["fedora-coreos"].binary;

/** What the boot test runs on the host, and the Debian package each comes from. */
const HOST_TOOLS: Record<string, string> = {
  mmdebstrap: "mmdebstrap",
  "systemd-nspawn": "systemd-container",
  "qemu-system-x86_64": "qemu-system-x86",
  "ignition-validate": "ignition",
  cpio: "cpio",
  debugfs: "e2fsprogs",
  "mkfs.ext4": "e2fsprogs",
  journalctl: "systemd",
  mksquashfs: "squashfs-tools",
  unsquashfs: "squashfs-tools",
};

interface IgnitionConfig {
  storage: { files: Array<{ path: string; mode?: number; contents: { source: string } }> };
  systemd: { units: Array<{ name: string; contents?: string; dropins?: Array<{ name: string; contents: string }> }> };
}

describe.skipIf(!ENABLED)("first boot of a node (npm run test:boot)", () => {
  /** Every boot and scenario that ran to the end, for the last line. */
  const ran: string[] = [];
  const timings: Array<[string, number]> = [];
  let failed = false;
  let work: string;
  let root: string;
  let binary: Buffer;
  let binarySha512: string;
  let sysext: Buffer;
  let sysextSha512: string;
  let assets: Map<string, string>;
  let bundle: Buffer;
  /** The bundle with a CR in one asset: Terraform never writes one, so apply refuses it (65). */
  let rejectedBundle: Buffer;
  let server: BinaryServer;

  async function timed<T>(step: string, action: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await action();
    } finally {
      timings.push([step, (performance.now() - start) / 1000]);
    }
  }

  /** A failing test also keeps the work directory for a look. */
  async function recordingFailure(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      failed = true;
      throw error;
    }
  }

  /** The kubelet's bootstrap kubeconfig, which Typhoon's own controller config places. */
  function typhoonKubeconfig(): string {
    const template = fs.readFileSync(path.join(UPSTREAM_RESOURCES, "kubeconfig-bootstrap"), "utf8");
    const values = {
      server: "https://example.typhoon.test:6443",
      ca_cert: Buffer.from(assets.get("tls/k8s/ca.crt")!).toString("base64"),
      token_id: "abc123",
      token_secret: "0123456789abcdef",
    };
    return renderTemplate(template, values, {});
  }

  /**
   * packaging/fedora-coreos.ign (a worker's: fedora-coreos-worker.ign) as Terraform renders
   * it, plus the part of Typhoon's node config the kubelet.service that apply renders relies
   * on; checked by ignition-validate.
   */
  async function writeConfig(name: string, binaryUrl: string, edit: (config: IgnitionConfig) => void = () => {}, role: Role = "controller", distro: Distro = "fedora-coreos") {
    // the Flatcar boot is an AWS node: its kubelet gets the provider ID from the instance metadata
    const values: TemplateValues = {
      typhoon_agent_url: binaryUrl,
      typhoon_agent_sha512: distro === "flatcar" ? sysextSha512 : binarySha512,
      kubelet_image: STAND_IN_KUBELET_IMAGE,
      cluster_dns_service_ip: "10.3.0.10",
      cluster_domain_suffix: "cluster.local",
      node_labels: role === "worker" ? "example.com/pool=boot-test" : "",
      node_taints: "",
      cloud_provider: null,
      platform: distro === "flatcar" ? "aws" : null,
    };
    const template = fs.readFileSync(path.join(PACKAGING, `${outputName(distro, role)}.ign`), "utf8");
    const config = JSON.parse(renderPackaging(template, values)) as IgnitionConfig;
    const kubeconfig = `data:;base64,${Buffer.from(typhoonKubeconfig()).toString("base64")}`;
    config.storage.files.push({ path: "/etc/kubernetes/kubeconfig", mode: 0o644, contents: { source: kubeconfig } });
    edit(config);
    const file = path.join(work, name);
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    await run("ignition-validate", [file], { timeoutSeconds: 30 });
    return { file, config };
  }

  async function freshRoot(boot: Boot, from = root): Promise<string> {
    const copy = path.join(work, `${boot}-root`);
    await timed(`${boot}: copy the cached root`, () => run("cp", ["-a", from, copy], { timeoutSeconds: 300 }));
    await prepareRoot(copy, boot, bundle, rejectedBundle);
    if (boot !== "worker") installEtcd(copy, assets);
    return copy;
  }

  async function expectBootDid(boot: Boot, result: BootResult, config: IgnitionConfig, more: Partial<BootFacts> = {}) {
    const agentConfig = config.storage.files.find((file) => file.path === CONFIG_PATH)!;
    const text = bundle.toString("utf8");
    const caKey = text.slice(text.indexOf("##### tls/k8s/ca.key\n")).split("\n");
    const facts: BootFacts = {
      boot,
      binarySha512,
      bundleSha256: createHash("sha256").update(bundle).digest("hex"),
      agentConfig: decodeURIComponent(agentConfig.contents.source.slice("data:,".length)),
      units: new Map(
        config.systemd.units.flatMap((unit) => [
          ...(unit.contents === undefined ? [] : [[unit.name, unit.contents] as const]),
          ...(unit.dropins ?? []).map((dropIn) => [`${unit.name}.d/${dropIn.name}`, dropIn.contents] as const),
        ]),
      ),
      secretLine: caKey.find((line, index) => index > 3 && /^[A-Za-z0-9+/]{60,}$/.test(line))!,
      ...more,
    };
    const journalDump = path.join(work, `${boot}-journal.txt`);
    const checked = await checkBoot(result, facts, journalDump);
    expect(checked.problems, `${boot}: see ${journalDump}`).toEqual([]);
    return checked.entries;
  }

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error("the boot test runs as root (mmdebstrap, systemd-nspawn, Ignition)");
    const searchPath = `${process.env.PATH}:/usr/sbin:/sbin`.split(":");
    const missing = Object.entries(HOST_TOOLS).filter(([tool]) => !searchPath.some((directory) => fs.existsSync(path.join(directory, tool))));
    if (missing.length > 0 || !fs.existsSync(IGNITION) || !fs.existsSync("/bin/busybox")) {
      const packages = new Set([...missing.map(([, debian]) => debian), "ignition", "busybox-static"]);
      throw new Error(`missing host tools: apt-get install --no-install-recommends ${[...packages].join(" ")}`);
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), "typhoon-boot-"));
    binary = fs.readFileSync(AGENT);
    binarySha512 = sha512(binary);
    const sysextFile = path.join(work, "typhoon-agent-linux-x64.raw");
    await timed("the sysext image of the binary (build:release's)", async () => buildSysext(AGENT, "x64", sysextFile));
    sysext = fs.readFileSync(sysextFile);
    sysextSha512 = sha512(sysext);
    assets = await makeSampleAssets();
    bundle = terraformBundle(assets);
    const withCarriageReturn = new Map(assets);
    withCarriageReturn.set("manifests/in-cluster.yaml", `${assets.get("manifests/in-cluster.yaml")}\r\n`);
    rejectedBundle = terraformBundle(withCarriageReturn);
    root = await timed("root filesystem (cached after the first run)", () => rootFilesystem("fedora-coreos"));
    server = await serveBinary(binary, sysext);
  }, 1_200_000);

  afterAll(async () => {
    await server?.close();
    const keep = failed || process.env.BOOT_TEST_KEEP === "1";
    if (work !== undefined && !keep) fs.rmSync(work, { recursive: true, force: true });
    const lines = timings.map(([step, seconds]) => `  ${step.padEnd(52)} ${seconds.toFixed(1).padStart(6)} s`);
    console.log(`boot test timings:\n${lines.join("\n")}`);
    if (work !== undefined && keep) console.log(`boot test work directory kept: ${work}`);
    console.log(`boot test ran: ${ran.length === 0 ? "nothing" : ran.join("; ")}`);
  });

  test("Ignition refuses an agent binary that does not match its SHA-512", async () => {
    await recordingFailure(async () => {
      const { file } = await writeConfig("corrupted.ign", server.corruptedUrl);
      const emptyRoot = fs.mkdtempSync(path.join(work, "corrupted-root-"));
      // Ignition's files stage reads the SELinux type to relabel what it wrote
      fs.mkdirSync(path.join(emptyRoot, "etc/selinux"), { recursive: true });
      fs.writeFileSync(path.join(emptyRoot, "etc/selinux/config"), "SELINUX=disabled\nSELINUXTYPE=default\n");
      const result = await runIgnition(emptyRoot, file, work);
      expect(server.requests).toContain(`GET ${new URL(server.corruptedUrl).pathname}`);
      expect(result.ok).toBe(false);
      expect(result.log).toContain("hash verification failed");
      expect(fs.existsSync(path.join(emptyRoot, BINARY))).toBe(false);
      ran.push("Ignition refuses a corrupted binary");
    });
  }, 180_000);

  test("nspawn: Ignition fetches the agent over HTTP, the bundle dropped after boot is applied, kubelet starts", async () => {
    await recordingFailure(async () => {
      const machine = await freshRoot("nspawn");
      const { file, config } = await writeConfig("nspawn.ign", server.binaryUrl);
      const ignition = await timed("nspawn: Ignition fetch-offline, fetch, files", () => runIgnition(machine, file, work));
      expect(ignition.ok, ignition.log).toBe(true);
      expect(server.requests).toContain(`GET ${new URL(server.binaryUrl).pathname}`);
      const result = await timed("nspawn: boot, apply, kubelet, power off", () => bootNspawn(machine, work, "nspawn"));
      const entries = await expectBootDid("nspawn", result, config);

      // typhoon-agent.path started it, not the boot: skipped at boot (no bundle yet), run after the drop
      const skipped = entriesMatching(entries, { UNIT: "typhoon-agent.service" }).filter((entry) =>
        entry.MESSAGE?.includes("skipped because of an unmet condition check (ConditionPathExists=/home/core/assets)"),
      );
      expect(skipped).toHaveLength(1);
      const finished = (unit: string) => Number(entriesMatching(entries, startJobDone(unit)).at(-1)?.__MONOTONIC_TIMESTAMP);
      expect(finished("typhoon-agent.service")).toBeGreaterThan(finished("boot-test-drop-bundle.service"));
      // ... while core's upload still held the bundle open: apply found the writer from its sandbox
      // (ProtectProc=invisible, CAP_SYS_PTRACE) and waited for it
      const report = JSON.parse(fs.readFileSync(path.join(result.tree, "var/lib/typhoon-agent/result.json"), "utf8")) as { warnings: string[] };
      // (the upload's shell holds the file, and so does tail when the scan lands during the second write)
      expect(report.warnings).toEqual([expect.stringMatching(/^waited \d+ ms for sh \(pid \d+\)(, tail \(pid \d+\))? to finish writing the bundle$/)]);
      ran.push("nspawn (bundle dropped after boot)");
    });
  }, 600_000);

  test("worker: Ignition places the agent and its worker drop-in; at boot apply renders the kubelet units without a bundle", async () => {
    await recordingFailure(async () => {
      const machine = await freshRoot("worker");
      const { file, config } = await writeConfig("worker.ign", server.binaryUrl, undefined, "worker");
      const ignition = await timed("worker: Ignition fetch-offline, fetch, files", () => runIgnition(machine, file, work));
      expect(ignition.ok, ignition.log).toBe(true);
      const result = await timed("worker: boot, apply, kubelet, power off", () => bootNspawn(machine, work, "worker"));
      await expectBootDid("worker", result, config);
      ran.push("worker");
    });
  }, 600_000);

  test("rejected: a bundle apply refuses is not retried, and a good one re-uploaded in place applies without intervention", async () => {
    await recordingFailure(async () => {
      const machine = await freshRoot("rejected");
      const { file, config } = await writeConfig("rejected.ign", server.binaryUrl);
      const ignition = await timed("rejected: Ignition fetch-offline, fetch, files", () => runIgnition(machine, file, work));
      expect(ignition.ok, ignition.log).toBe(true);
      const result = await timed("rejected: boot, rejected bundle, re-upload, apply, kubelet, power off", () => bootNspawn(machine, work, "rejected"));
      const entries = await expectBootDid("rejected", result, config);

      // one failed run for the rejected bundle, not a loop into systemd's start limit
      const failures = entriesMatching(entries, { SYSLOG_IDENTIFIER: "typhoon-agent", MESSAGE_ID: EVENTS.applyFailed.messageId });
      expect(failures.map((entry) => entry.TYPHOON_EXIT_CODE)).toEqual(["65"]);
      const startLimit = entries.filter((entry) => /start-limit-hit|Start request repeated too quickly/.test(entry.MESSAGE ?? ""));
      expect(startLimit.map((entry) => entry.MESSAGE)).toEqual([]);
      expect(entries.filter((entry) => entry.UNIT === "typhoon-agent.path" && /Failed/.test(entry.MESSAGE ?? ""))).toEqual([]);
      // the re-upload, not anyone's reset-failed, started the second run
      const harness = entriesMatching(entries, { SYSLOG_IDENTIFIER: "drop-rejected.sh" }).map((entry) => entry.MESSAGE);
      expect(harness).toContain("boot test: re-uploaded a good bundle in place");
      ran.push("rejected (a refused bundle, then a good re-upload in place)");
    });
  }, 600_000);

  test("flatcar: the sysext image merged at boot, its units apply the bundle, and kubelet.service runs the kubelet container in docker with the AWS provider ID", async () => {
    await recordingFailure(async () => {
      const flatcarRoot = await timed("flatcar root filesystem (cached after the first run)", () => rootFilesystem("flatcar"));
      const machine = await freshRoot("flatcar", flatcarRoot);
      const { file, config } = await writeConfig("flatcar.ign", server.sysextUrl, undefined, "controller", "flatcar");
      const ignition = await timed("flatcar: Ignition fetch-offline, fetch, files", () => runIgnition(machine, file, work));
      expect(ignition.ok, ignition.log).toBe(true);
      expect(server.requests).toContain(`GET ${new URL(server.sysextUrl).pathname}`);
      const result = await timed("flatcar: boot, sysext, apply, docker kubelet, power off", () => bootNspawn(machine, work, "flatcar"));
      // the catalog the image carries, compiled as journalctl --update-catalog does on the node
      const catalogRoot = path.join(work, "flatcar-sysext");
      await run("unsquashfs", ["-no-progress", "-d", catalogRoot, path.join(machine, SYSEXT.path)], { timeoutSeconds: 120 });
      // what kubelet.service passes, for the agent.yaml Ignition placed
      const { config: agentConfig } = loadConfig({ root: "/", configPath: path.join(machine, CONFIG_PATH), flags: {} });
      const expanded = (word: Word) => (typeof word === "string" ? word : word.expands.replace(/\$\{(\w+)\}/g, (_, name: keyof typeof AWS_METADATA) => AWS_METADATA[name]));
      const kubeletArguments = kubeletFlags(agentConfig, "docker").map(expanded).join(" ");
      expect(kubeletArguments).toContain(`--provider-id=aws:///${AWS_METADATA.COREOS_EC2_AVAILABILITY_ZONE}/${AWS_METADATA.COREOS_EC2_INSTANCE_ID}`);
      const entries = await expectBootDid("flatcar", result, config, { binarySha512: sysextSha512, catalogRoot, kubeletArguments });

      // the units came from the image: systemd found them only after the merge
      const started = (unit: string) => Number(entriesMatching(entries, startJobDone(unit)).at(-1)?.__MONOTONIC_TIMESTAMP);
      expect(started("typhoon-agent.path")).toBeGreaterThan(started("systemd-sysext.service"));
      expect(started("kubelet.service")).toBeGreaterThan(started("boot-test-kubelet-image.service"));
      ran.push("flatcar (sysext, docker kubelet container, platform aws)");
    });
  }, 600_000);

  test("qemu: Ignition in the initrd reads the config from fw_cfg, the bundle present at boot is applied, kubelet runs in podman", async () => {
    await recordingFailure(async () => {
      const kernel = await timed("kernel and initrd (cached after the first run)", kernelAndInitrd);
      const machine = await freshRoot("qemu");
      // no network in the VM: the binary is on the disk already, as Ignition would have placed it
      const placed = agentFiles("fedora-coreos", "controller").files.find((file) => file.path === BINARY)!;
      fs.writeFileSync(path.join(machine, BINARY), binary, { mode: placed.mode });
      const { file, config } = await writeConfig("qemu.ign", server.binaryUrl, (ignitionConfig) => {
        ignitionConfig.storage.files = ignitionConfig.storage.files.filter((entry) => entry.path !== BINARY);
      });
      const result = await timed("qemu: mkfs, boot (TCG), apply, kubelet container, power off, read back", () =>
        bootQemu(machine, file, kernel, work),
      );
      expect(result.console).toContain("files: files passed");
      await expectBootDid("qemu", result, config);
      ran.push("qemu (podman kubelet container)");
    });
  }, 900_000);
});
