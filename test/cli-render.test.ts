// `typhoon-agent render` as an operator runs it (the compiled binary): what it prints on
// standard output, what it says on standard error, and its exit codes.

import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { describe, expect, test } from "vitest";
import { CONFIG_KEY_LIST, describeDefault, flagName } from "../agent/config/keys.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { tempDir } from "./helpers/tree.ts";

function rootWith(files: Record<string, string>): string {
  const root = tempDir();
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.join(root, path.dirname(name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
  return root;
}

const FEDORA_COREOS = "ID=fedora\nVARIANT_ID=coreos\n";

describe("render prints what apply would write", () => {
  test("render kubelet: the unit for the runtime asked for, on standard output only", async () => {
    for (const runtime of ["podman", "docker", "rkt"]) {
      const image = runtime === "rkt" ? ["--kubelet-image", "quay.io/poseidon/kubelet:v1.34.2"] : [];
      const result = await runAgent(["render", "kubelet", "--runtime", runtime, ...image, "--root", tempDir()]);
      expect(result.exitCode, result.stderr as string).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout).toContain(`Description=Kubelet (${runtime} container)`);
      expect(result.stdout).toContain(`ExecStart=/usr/bin/${runtime} run`);
    }
  });

  test("render kubelet --runtime rkt with kubelet 1.35 or newer: exit 78, why, and what works", async () => {
    const result = await runAgent(["render", "kubelet", "--runtime", "rkt", "--root", tempDir()]);
    expect(result.exitCode).toBe(78);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("typhoon-agent: runtime: rkt cannot run kubelet v1.36.1: rkt runs only on Container Linux, whose cgroups are v1 only");
    expect(result.stderr).toContain("hint: move the node to Flatcar Linux (runtime docker) or Fedora CoreOS (runtime podman)");
  });

  test("render kubelet for a kubelet older than any field's flagless form, or an image that does not say its version: exit 78 naming the key", async () => {
    const old = await runAgent(["render", "config", "--kubelet-image", "quay.io/poseidon/kubelet:v1.20.4", "--root", tempDir()]);
    expect(old.exitCode).toBe(78);
    expect(old.stderr).toContain("kubelet_image: kubelet v1.20.4 is older than 1.21, the oldest the agent configures: it does not accept shutdownGracePeriod and shutdownGracePeriodCriticalPods");
    const digest = `quay.io/poseidon/kubelet@sha256:${"d".repeat(64)}`;
    const unsaid = await runAgent(["render", "kubelet", "--runtime", "docker", "--kubelet-image", digest, "--root", tempDir()]);
    expect(unsaid.exitCode).toBe(78);
    expect(unsaid.stderr).toContain("kubelet_version: needed: kubelet_image");
    const said = await runAgent(["render", "kubelet", "--runtime", "docker", "--kubelet-image", digest, "--kubelet-version", "1.36.1", "--root", tempDir()]);
    expect(said.exitCode, said.stderr as string).toBe(0);
  });

  test("render kubelet --platform aws: the provider ID from the metadata agent's file, which systemd expands", async () => {
    const podman = await runAgent(["render", "kubelet", "--runtime", "podman", "--platform", "aws", "--root", tempDir()]);
    expect(podman.exitCode, podman.stderr as string).toBe(0);
    expect(podman.stdout).toContain("Requires=afterburn.service\nAfter=afterburn.service");
    expect(podman.stdout).toContain("EnvironmentFile=/run/metadata/afterburn\n");
    expect(podman.stdout).toContain("  --provider-id=aws:///${AFTERBURN_AWS_AVAILABILITY_ZONE}/${AFTERBURN_AWS_INSTANCE_ID}");
    const docker = await runAgent(["render", "kubelet", "--runtime", "docker", "--platform", "aws", "--root", tempDir()]);
    expect(docker.stdout).toContain("Requires=coreos-metadata.service\nAfter=coreos-metadata.service");
    expect(docker.stdout).toContain("EnvironmentFile=/run/metadata/coreos\n");
    expect(docker.stdout).toContain("  --provider-id=aws:///${COREOS_EC2_AVAILABILITY_ZONE}/${COREOS_EC2_INSTANCE_ID}");
  });

  test("render kubelet with runtime auto says on standard error what it chose and why", async () => {
    const root = rootWith({ "etc/os-release": FEDORA_COREOS });
    const result = await runAgent(["render", "kubelet", "--root", root, "--role", "worker"]);
    expect(result.exitCode, result.stderr as string).toBe(0);
    expect(result.stderr).toBe("typhoon-agent: runtime auto: podman, for Fedora CoreOS (/etc/os-release)\n");
    expect(result.stdout).toContain("--node-labels=node.kubernetes.io/node");
    fs.rmSync(root, { recursive: true });
  });

  test("render kubelet with runtime auto on an unknown OS: exit 78, set runtime", async () => {
    const root = rootWith({ "etc/os-release": "ID=debian\n" });
    const result = await runAgent(["render", "kubelet", "--root", root]);
    expect(result.exitCode).toBe(78);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("runtime: auto cannot tell the container runtime from /etc/os-release (ID=debian)");
    expect(result.stderr).toContain("hint: set runtime (podman, docker or rkt)");
    fs.rmSync(root, { recursive: true });
  });

  test("render config: kubelet.yaml from the file and the flags, without needing a runtime", async () => {
    const root = rootWith({ "etc/typhoon/agent.yaml": "cluster_domain_suffix: k8s.example.com\nrole: worker\n" });
    const result = await runAgent(["render", "config", "--root", root, "--cluster-dns-service-ip", "fd00::a", "--node-taints", "gpu:NoSchedule"]);
    expect(result.exitCode, result.stderr as string).toBe(0);
    expect(load(result.stdout as string)).toMatchObject({
      kind: "KubeletConfiguration",
      clusterDNS: ["fd00::a"],
      clusterDomain: "k8s.example.com",
      registerWithTaints: [{ key: "gpu", effect: "NoSchedule" }],
    });
    fs.rmSync(root, { recursive: true });
  });

  test("render agent-config: the effective configuration with origins, which loads back unchanged", async () => {
    const root = rootWith({ "etc/typhoon/agent.yaml": "role: worker\nnode_labels: [example.com/rack=r1]\n" });
    const first = await runAgent(["render", "agent-config", "--root", root, "--runtime", "docker", "--cloud-provider", "external"]);
    expect(first.exitCode, first.stderr as string).toBe(0);
    const text = first.stdout as string;
    expect(text).toContain("role: worker  # file");
    expect(text).toContain("runtime: docker  # --runtime");
    expect(text).toContain("node_labels: [example.com/rack=r1]  # file");
    expect(text).toContain("etcd_user: etcd  # default");
    const saved = path.join(root, "effective.yaml");
    fs.writeFileSync(saved, text);
    const second = await runAgent(["render", "agent-config", "--root", root, "--config", saved]);
    expect(second.exitCode, second.stderr as string).toBe(0);
    expect(load(second.stdout as string)).toEqual(load(text));
    fs.rmSync(root, { recursive: true });
  });
});

describe("bad configuration: exit 78, one message naming the key, nothing on standard output", () => {
  test.each([
    ["a renamed key", { "etc/typhoon/agent.yaml": "k8s_dns_service_ip: 10.3.0.10\n" }, [], "k8s_dns_service_ip: was renamed to cluster_dns_service_ip"],
    ["a misspelt key", { "etc/typhoon/agent.yaml": "kubelet-image: quay.io/poseidon/kubelet:v1\n" }, [], "did you mean kubelet_image?"],
    ["a bad IP in the file", { "etc/typhoon/agent.yaml": "cluster_dns_service_ip: 10.3.0.300\n" }, [], 'cluster_dns_service_ip: "10.3.0.300" is not an IP address'],
    ["a bad label flag", {}, ["--node-labels", "node-role.kubernetes.io/master"], 'node_labels: "node-role.kubernetes.io/master" is in the kubernetes.io/k8s.io namespace'],
    ["an unpinned image flag", {}, ["--kubelet-image", "quay.io/poseidon/kubelet"], "kubelet_image: \"quay.io/poseidon/kubelet\" has no tag or digest"],
  ])("%s", async (_title, files, flags, message) => {
    const root = rootWith(files);
    const result = await runAgent(["render", "config", "--root", root, ...flags]);
    expect(result.exitCode).toBe(78);
    expect(result.stdout).toBe("");
    const lines = (result.stderr as string).split("\n").filter(Boolean);
    expect(lines[0]).toContain(message);
    expect(lines.length).toBeLessThanOrEqual(2);
    fs.rmSync(root, { recursive: true });
  });

  test("a missing --config file is no input (exit 66)", async () => {
    const result = await runAgent(["render", "config", "--config", path.join(tempDir(), "agent.yaml")]);
    expect(result.exitCode).toBe(66);
    expect(result.stderr).toContain("agent.yaml: no such file or directory");
  });
});

describe("usage", () => {
  test.each([
    [["render"], "Not enough non-option arguments"],
    [["render", "kubelet.service"], "Invalid values"],
    [["render", "config", "--kubelet-imag", "x"], "unknown option --kubelet-imag\ntyphoon-agent: hint: did you mean --kubelet-image (not --kubelet-imag)?"],
    [["render", "kubelet", "--k8s-dns-service-ip", "10.3.0.10"], "hint: --k8s-dns-service-ip was renamed to --cluster-dns-service-ip"],
    [["apply", "--keep-bundel", "--zzzz"], "unknown options --keep-bundel, --zzzz\ntyphoon-agent: hint: did you mean --keep-bundle (not --keep-bundel)?\n"],
    [["verify", "--bogus"], "unknown option --bogus\ntyphoon-agent: hint: see typhoon-agent --help\n"],
  ])("%j is a usage error (exit 2)", async (args, message) => {
    const result = await runAgent(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(message);
  });

  test("--help shows every configuration flag with its default, and examples", async () => {
    const result = await runAgent(["render", "--help"]);
    expect(result.exitCode).toBe(0);
    const help = (result.stdout as string).replaceAll(/\s+/g, " ");
    for (const key of CONFIG_KEY_LIST) {
      expect(help).toContain(`--${flagName(key.name)}`);
      expect(help).toContain(`[default: ${describeDefault(key)}]`);
    }
    expect(help).toContain("Examples:");
    expect(help).toContain("typhoon-agent render kubelet --runtime");
  });

  test("render is listed in the top-level help", async () => {
    const result = await runAgent(["--help"]);
    expect(result.stdout).toContain("typhoon-agent render <what>");
  });
});
