// Loading /etc/typhoon/agent.yaml and the flags (in process): defaults, precedence, and the
// exit-78 message for every way a key can be wrong, named with where the value came from.

import * as fs from "node:fs";
import * as path from "node:path";
import yargs from "yargs";
import { describe, expect, test } from "vitest";
import { CONFIG_KEY_LIST, CONFIG_KEYS, defaultConfig, flagName, type ConfigKeyName } from "../agent/config/keys.ts";
import { loadConfig, type ConfigFlags, type LoadConfigOptions } from "../agent/config/load.ts";
import { configOptions, flagsFromArgs } from "../agent/config/options.ts";
import { AgentError, ConfigError } from "../agent/errors.ts";
import { tempDir } from "./helpers/tree.ts";

/** A root whose /etc/typhoon/agent.yaml holds `yaml`; returns the root and the file. */
function rootWithConfig(yaml: string): { root: string; file: string } {
  const root = tempDir();
  const file = path.join(root, "etc/typhoon/agent.yaml");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, yaml);
  return { root, file };
}

function loadError(options: LoadConfigOptions): AgentError {
  try {
    loadConfig(options);
  } catch (error) {
    if (error instanceof AgentError) return error;
    throw error;
  }
  throw new Error("loadConfig accepted the configuration");
}

function configError(options: LoadConfigOptions): ConfigError {
  const error = loadError(options);
  expect(error).toBeInstanceOf(ConfigError);
  expect(error.exitCode).toBe(78);
  return error as ConfigError;
}

describe("sources and precedence", () => {
  test("without a file: the documented defaults", () => {
    const root = tempDir();
    const loaded = loadConfig({ root, flags: {} });
    expect(loaded.config).toEqual({
      role: "controller",
      runtime: "auto",
      kubelet_image: "quay.io/poseidon/kubelet:v1.36.1",
      cluster_dns_service_ip: "10.3.0.10",
      cluster_domain_suffix: "cluster.local",
      node_labels: [],
      node_taints: [],
      etcd_user: "etcd",
      platform: "none",
      textfile_collector_dir: "/var/lib/node_exporter/textfile_collector",
    });
    expect(loaded.source).toBeUndefined();
    expect(Object.values(loaded.origins).every((origin) => origin === "default")).toBe(true);
    fs.rmSync(root, { recursive: true });
  });

  test("the file sets keys, flags override the file, and each value says where it came from", () => {
    const { root, file } = rootWithConfig(
      "# a worker\nrole: worker\nruntime: docker\nnode_labels:\n  - example.com/rack=r1\nnode_taints: [dedicated=infra:NoSchedule]\ncloud_provider: external\n",
    );
    const loaded = loadConfig({ root, flags: { runtime: "podman", node_labels: ["example.com/rack=r2,example.com/row=3"] } });
    expect(loaded.source).toBe(file);
    expect(loaded.config).toMatchObject({
      role: "worker",
      runtime: "podman",
      node_labels: ["example.com/rack=r2", "example.com/row=3"],
      node_taints: ["dedicated=infra:NoSchedule"],
      cloud_provider: "external",
    });
    expect(loaded.origins).toMatchObject({ role: "file", runtime: "flag", node_labels: "flag", node_taints: "file", kubelet_image: "default" });
    fs.rmSync(root, { recursive: true });
  });

  test("an empty file, a comment-only file and `key:` with no value leave the defaults", () => {
    for (const yaml of ["", "# nothing yet\n", "role:\nnode_labels:\n"]) {
      const { root, file } = rootWithConfig(yaml);
      const loaded = loadConfig({ root, flags: {} });
      expect(loaded.config).toEqual(defaultConfig());
      expect(loaded.source).toBe(file);
      fs.rmSync(root, { recursive: true });
    }
  });

  test("--config is read as given instead of the file below the root, and must exist (exit 66)", () => {
    const { root } = rootWithConfig("role: worker\n");
    const elsewhere = path.join(root, "other.yaml");
    fs.writeFileSync(elsewhere, "etcd_user: etcd-member\n");
    const loaded = loadConfig({ root, configPath: elsewhere, flags: {} });
    expect(loaded.source).toBe(elsewhere);
    expect(loaded.config.role).toBe("controller");
    expect(loaded.config.etcd_user).toBe("etcd-member");
    const missing = loadError({ root, configPath: path.join(root, "missing.yaml"), flags: {} });
    expect(missing.exitCode).toBe(66);
    expect(missing.message).toContain("missing.yaml");
    fs.rmSync(root, { recursive: true });
  });
});

/** One bad value per key; the test below fails if a key of the table has none. */
const BAD_VALUES: Record<ConfigKeyName, { yaml: string; flag: string; problem: string }> = {
  role: { yaml: "master", flag: "master", problem: "is not one of the choices" },
  runtime: { yaml: "lxc", flag: "lxc", problem: "is not one of the choices" },
  kubelet_image: { yaml: "quay.io/poseidon/kubelet", flag: "quay.io/poseidon/kubelet", problem: "has no tag or digest" },
  cluster_dns_service_ip: { yaml: "10.3.0.300", flag: "10.3.0.300", problem: "is not an IP address" },
  cluster_domain_suffix: { yaml: "Cluster.Local", flag: "Cluster.Local", problem: "is not a lower-case DNS name" },
  node_labels: { yaml: "node-role.kubernetes.io/master", flag: "node-role.kubernetes.io/master", problem: "is in the kubernetes.io/k8s.io namespace" },
  node_taints: { yaml: "dedicated=infra:Sometimes", flag: "dedicated=infra:Sometimes", problem: 'has effect "Sometimes"' },
  cloud_provider: { yaml: "aws", flag: "aws", problem: "is not one of the choices" },
  etcd_user: { yaml: "Etcd", flag: "Etcd", problem: "is not a user name" },
  platform: { yaml: "gcp", flag: "gcp", problem: "is not one of the choices" },
  kubelet_version: { yaml: "v1.36-beta", flag: "1.x", problem: "is not a Kubernetes version" },
  textfile_collector_dir: { yaml: "var/lib/node_exporter", flag: "var/lib/node_exporter", problem: "is not an absolute path" },
};

describe("a bad value names the key, the value, the expected form and where it came from (exit 78)", () => {
  test("every key of the table has a bad value below", () => {
    expect(Object.keys(BAD_VALUES).sort()).toEqual(CONFIG_KEY_LIST.map((key) => key.name).sort());
  });

  test.each(CONFIG_KEY_LIST.map((key) => [key.name] as const))("%s in the file", (name) => {
    const key = CONFIG_KEYS[name];
    const bad = BAD_VALUES[name];
    const yamlValue = key.kind === "list" ? `[${JSON.stringify(bad.yaml)}]` : JSON.stringify(bad.yaml);
    const { root, file } = rootWithConfig(`${name}: ${yamlValue}\n`);
    const error = configError({ root, flags: {} });
    expect(error.key).toBe(name);
    expect(error.message).toBe(`${name}: ${JSON.stringify(bad.yaml)} ${key.check(bad.yaml)}; expected ${key.form} (in ${file})`);
    expect(error.message).toContain(bad.problem);
    fs.rmSync(root, { recursive: true });
  });

  test.each(CONFIG_KEY_LIST.map((key) => [key.name] as const))("%s from its flag", (name) => {
    const key = CONFIG_KEYS[name];
    const bad = BAD_VALUES[name];
    const flags: ConfigFlags = { [name]: key.kind === "list" ? [bad.flag] : bad.flag };
    const error = configError({ root: tempDir(), flags });
    expect(error.key).toBe(name);
    expect(error.message).toContain(`${name}: ${JSON.stringify(bad.flag)} ${bad.problem}`);
    expect(error.message).toContain(`expected ${key.form}`);
    expect(error.message.endsWith(`(from --${flagName(name)})`)).toBe(true);
  });

  test.each([
    ["role: 1\n", "role", "got 1 (a number; quote it to make it a string)"],
    ["role: true\n", "role", "got true (a boolean"],
    ["role: [controller]\n", "role", "got a list"],
    ["cluster_dns_service_ip: {a: 1}\n", "cluster_dns_service_ip", "got a mapping"],
    ['node_labels: "a=b"\n', "node_labels", 'got "a=b"'],
    ["node_taints: [1]\n", "node_taints", "got a list"],
  ])("the wrong YAML type: %j", (yaml, key, fragment) => {
    const { root } = rootWithConfig(yaml);
    const error = configError({ root, flags: {} });
    expect(error.key).toBe(key);
    expect(error.message).toContain(`expected ${CONFIG_KEYS[key as ConfigKeyName].form}, ${fragment}`);
    fs.rmSync(root, { recursive: true });
  });

  test("a label or taint the role already sets, or one given twice, across file and flags", () => {
    const { root, file } = rootWithConfig("role: worker\nnode_labels: [node.kubernetes.io/node=yes]\n");
    const fromFile = configError({ root, flags: {} });
    expect(fromFile.message).toBe(`node_labels: "node.kubernetes.io/node=yes" sets node.kubernetes.io/node, which role worker already sets (in ${file})`);
    // The role from a flag decides which labels collide.
    expect(loadConfig({ root, flags: { role: "controller" } }).config.node_labels).toEqual(["node.kubernetes.io/node=yes"]);
    const twice = configError({ root, flags: { role: "controller", node_taints: ["a:NoSchedule", "a=b:NoSchedule"] } });
    expect(twice.message).toBe('node_taints: "a=b:NoSchedule" sets a:NoSchedule a second time (from --node-taints)');
    fs.rmSync(root, { recursive: true });
  });
});

describe("keys the loader does not know", () => {
  test.each([
    ["kubelet_imag", "kubelet_image"],
    ["kubelet-image", "kubelet_image"],
    ["KUBELET_IMAGE", "kubelet_image"],
    ["node_label", "node_labels"],
    ["nodetaints", "node_taints"],
    ["clusterdomain_suffix", "cluster_domain_suffix"],
    ["cluster_dns_service", "cluster_dns_service_ip"],
    ["rol", "role"],
    ["etcd_usr", "etcd_user"],
    ["cloudprovider", "cloud_provider"],
  ])("%s: did you mean %s?", (typed, meant) => {
    const { root, file } = rootWithConfig(`${typed}: x\n`);
    const error = configError({ root, flags: {} });
    expect(error.key).toBe(typed);
    expect(error.message).toBe(`${typed}: unknown key (in ${file}); did you mean ${meant}?`);
    expect(error.hint).toBe(`keys: ${CONFIG_KEY_LIST.map((key) => key.name).join(", ")}`);
    fs.rmSync(root, { recursive: true });
  });

  test.each(["apiserver", "constructor", "toString", "__proto__", "ssh_authorized_key"])("%s: unknown, with no guess", (typed) => {
    const { root, file } = rootWithConfig(`${typed}: x\n`);
    const error = configError({ root, flags: {} });
    expect(error.message).toBe(`${typed}: unknown key (in ${file})`);
    fs.rmSync(root, { recursive: true });
  });

  test("k8s_dns_service_ip says it was renamed to cluster_dns_service_ip", () => {
    const { root, file } = rootWithConfig("k8s_dns_service_ip: 10.3.0.10\n");
    const error = configError({ root, flags: {} });
    expect(error.key).toBe("k8s_dns_service_ip");
    expect(error.message).toBe(`k8s_dns_service_ip: was renamed to cluster_dns_service_ip (in ${file})`);
    expect(error.hint).toContain("cluster_dns_service_ip");
    fs.rmSync(root, { recursive: true });
  });
});

describe("files that are not a flat mapping", () => {
  test.each([
    ["role: [controller\n", "cannot parse"],
    ["role: worker\nrole: controller\n", "duplicated mapping key"],
    ["role: worker\n---\nrole: controller\n", "2 YAML documents"],
    ["- role: worker\n", "must be a flat mapping of key: value lines, got a list"],
    ["just words\n", "must be a flat mapping of key: value lines, got one string of 10 characters (not shown: the wrong file may hold a secret)"],
  ])("%j", (yaml, fragment) => {
    const { root, file } = rootWithConfig(yaml);
    const error = configError({ root, flags: {} });
    expect(error.message).toContain(file);
    expect(error.message).toContain(fragment);
    fs.rmSync(root, { recursive: true });
  });
});

describe("flags, as yargs parses them with configOptions", () => {
  function parse(argv: string[]): { flags: ConfigFlags; positionals: unknown[] } {
    const args = configOptions(yargs(argv).exitProcess(false)).parseSync();
    return { flags: flagsFromArgs(args), positionals: args._ };
  }

  test("every key is a flag; absent flags stay absent so the file decides", () => {
    expect(parse([]).flags).toEqual({});
    const argv = CONFIG_KEY_LIST.flatMap((key) => [`--${flagName(key.name)}`, "x"]);
    expect(Object.keys(parse(argv).flags).sort()).toEqual(CONFIG_KEY_LIST.map((key) => key.name).sort());
  });

  test("list flags repeat (one item each, never swallowing a positional), scalars keep the last", () => {
    const { flags, positionals } = parse(["--node-labels", "a=b", "assets", "--node-labels=c=d,e", "--role", "worker", "--role", "controller"]);
    expect(positionals).toEqual(["assets"]);
    expect(flags).toEqual({ node_labels: ["a=b", "c=d,e"], role: "controller" });
    expect(loadConfig({ root: tempDir(), flags }).config.node_labels).toEqual(["a=b", "c=d", "e"]);
  });
});

describe("textfile_collector_dir", () => {
  test('"" turns the metrics files off, from the file and from the flag', () => {
    const { root } = rootWithConfig('textfile_collector_dir: ""\n');
    expect(loadConfig({ root, flags: {} }).config.textfile_collector_dir).toBe("");
    expect(loadConfig({ root: tempDir(), flags: { textfile_collector_dir: "" } }).config.textfile_collector_dir).toBe("");
    fs.rmSync(root, { recursive: true });
  });

  test.each([
    ["/run/metrics", undefined],
    ["/var/lib/node_exporter/textfile_collector", undefined],
    ["relative/dir", "is not an absolute path"],
    ["/var/lib/../etc", "is not a normalized directory path"],
    ["/var//lib", "is not a normalized directory path"],
    ["/var/lib/", "is not a normalized directory path"],
    ["/", "is not a normalized directory path"],
    ["/var/lib/\nx", "holds a control character"],
  ])("%j", (value, problem) => {
    expect(CONFIG_KEYS.textfile_collector_dir.check(value)).toBe(problem);
  });
});
