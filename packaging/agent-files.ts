// What Ignition places on a node for typhoon-agent, declared once. scripts/make-ignition.ts
// renders it into the snippets Typhoon merges into its node configs (Butane for Fedora CoreOS
// and Flatcar, a Container Linux Config for Container Linux) and the Ignition JSON the Butane
// ones translate to (packaging/*.yaml, packaging/*.ign); test/boot.test.ts boots it.
//
// The snippets are Terraform templates, like Typhoon's own node configs: the values that
// differ per cluster, per worker pool or per release are template variables, everything else
// is literal.

import * as fs from "node:fs";
import type { ConfigKeyName } from "../agent/config/keys.ts";
import type { Role } from "../agent/config/types.ts";
import { TEXTFILE_DIRECTORY_MODE } from "../agent/metrics/textfile.ts";
import { TEXTFILE_COLLECTOR_DIRECTORY } from "../agent/paths.ts";

/** The string variables Typhoon passes to templatefile() for every one of these snippets. */
export const TEMPLATE_VARIABLES = {
  typhoon_agent_url:
    "URL of the agent release asset for the node's architecture: the binary typhoon-agent-linux-x64 (or -arm64) on " +
    "Fedora CoreOS and Container Linux, the systemd-sysext image typhoon-agent-linux-x64.raw (or -arm64.raw) on Flatcar",
  typhoon_agent_sha512: "hex SHA-512 of that asset: the first field of its .sha512 release asset",
  kubelet_image: "kubelet container image, e.g. quay.io/poseidon/kubelet:v1.36.1",
  cluster_dns_service_ip: "cluster DNS service IP, e.g. 10.3.0.10",
  cluster_domain_suffix: "cluster domain, e.g. cluster.local",
} as const;

export type TemplateVariable = keyof typeof TEMPLATE_VARIABLES;

interface NodeVariableFields {
  /** list: comma-separated items, as Typhoon passes join(",", var.node_labels); optional: a string or null. */
  kind: "list" | "optional";
  /** The roles whose snippets take it: those whose Typhoon templates take it (the lists: workers only). */
  roles: readonly Role[];
  meaning: string;
}

/**
 * Variables that Typhoon's own node templates already take, for agent.yaml keys of the same
 * name, in the form Typhoon passes them: a snippet merged into Typhoon's butane/worker.yaml
 * reads what Typhoon's worker module passes there (node_labels and node_taints comma-joined,
 * cloud_provider null for none), so a worker pool keeps its labels and taints.
 */
export const NODE_VARIABLES = {
  node_labels: {
    kind: "list",
    roles: ["worker"],
    meaning: `the pool's extra node labels, comma-separated as Typhoon's worker modules pass them: join(",", var.node_labels)`,
  },
  node_taints: {
    kind: "list",
    roles: ["worker"],
    meaning: `the pool's extra node taints, comma-separated: join(",", var.node_taints)`,
  },
  cloud_provider: {
    kind: "optional",
    roles: ["controller", "worker"],
    meaning: "the kubelet's --cloud-provider (external), or null for none, as Typhoon's node templates take it",
  },
  platform: {
    kind: "optional",
    roles: ["controller", "worker"],
    meaning: "the Typhoon platform module rendering the node (aws, azure, bare-metal, digital-ocean, google-cloud), or null for none",
  },
} as const satisfies Partial<Record<ConfigKeyName, NodeVariableFields>>;

export type NodeVariable = keyof typeof NODE_VARIABLES;

/** Every variable a role's snippets take, in the order their headers list them. */
export function templateVariables(role: Role): Array<TemplateVariable | NodeVariable> {
  const node = (Object.keys(NODE_VARIABLES) as NodeVariable[]).filter((name) => (NODE_VARIABLES[name].roles as readonly Role[]).includes(role));
  return [...(Object.keys(TEMPLATE_VARIABLES) as TemplateVariable[]), ...node];
}

/**
 * Text made of literal parts, template variables (a string, as it is) and node variables (a
 * JSON value: the list of items, or the string or null), rendered by Terraform on the Typhoon
 * side. JSON is YAML, so agent.yaml needs no YAML quoting rules for a label.
 */
export interface Template {
  parts: ReadonlyArray<string | { variable: TemplateVariable } | { json: NodeVariable }>;
}

/** terraform`key: ${"variable_name"}`: literal text with template variables in it. */
export function terraform(literals: TemplateStringsArray, ...variables: TemplateVariable[]): Template {
  return { parts: literals.flatMap((literal, index) => (index < variables.length ? [literal, { variable: variables[index]! }] : [literal])) };
}

export function literal(text: string): Template {
  return { parts: [text] };
}

export function concat(...templates: Template[]): Template {
  return { parts: templates.flatMap((template) => template.parts) };
}

export type { Role };

export type Distro = "fedora-coreos" | "flatcar" | "container-linux";

interface DistroLayout {
  /**
   * The snippet's format: Butane (a variant, and the spec version of it that translates to
   * Ignition config 3.3.0), or a Container Linux Config, which ct translates to Ignition 2.x.
   */
  snippet: { format: "butane"; variant: string; version: string } | { format: "container-linux-config" };
  /**
   * Where the binary is: placed by Ignition (/usr/local/bin on Fedora CoreOS; /opt/bin on
   * Container Linux, whose /usr is read-only), or in the systemd-sysext image on Flatcar.
   */
  binary: string;
  /** How the agent arrives: the bare binary and units from Ignition, or a sysext image holding them. */
  delivery: "binary" | "sysext";
  runtime: "podman" | "docker" | "rkt";
  /**
   * A catalog directory journalctl --update-catalog reads (only /usr/local/lib and /usr/lib
   * systemd/catalog) and Ignition can write: on Fedora CoreOS /usr/local is /var/usrlocal;
   * both are on the read-only /usr of Flatcar and Container Linux.
   */
  catalogDirectory?: string;
}

export const DISTROS: Record<Distro, DistroLayout> = {
  "fedora-coreos": {
    snippet: { format: "butane", variant: "fcos", version: "1.4.0" },
    binary: "/usr/local/bin/typhoon-agent",
    delivery: "binary",
    runtime: "podman",
    catalogDirectory: "/usr/local/lib/systemd/catalog",
  },
  flatcar: {
    snippet: { format: "butane", variant: "flatcar", version: "1.0.0" },
    binary: "/usr/bin/typhoon-agent",
    delivery: "sysext",
    runtime: "docker",
  },
  "container-linux": {
    snippet: { format: "container-linux-config" },
    binary: "/opt/bin/typhoon-agent",
    delivery: "binary",
    runtime: "rkt",
  },
};

/**
 * The systemd-sysext image (Flatcar's way to extend its read-only /usr): what it holds and
 * where Ignition places it. systemd-sysext.service merges every image in /etc/extensions at
 * boot; the image's name is its file name, and its extension-release file must carry it.
 */
export const SYSEXT = {
  name: "typhoon-agent",
  path: "/etc/extensions/typhoon-agent.raw",
  binary: "/usr/bin/typhoon-agent",
  unitDirectory: "/usr/lib/systemd/system",
  catalogDirectory: "/usr/lib/systemd/catalog",
} as const;

/** The units every node runs, by name: the sysext holds them all; Ignition places each on the other distros. */
const UNIT_NAMES = ["typhoon-agent.service", "typhoon-agent.path", "typhoon-agent-verify.service", "typhoon-agent-verify.timer"] as const;

/** The text files in the sysext image besides the binary: path inside the image → content. */
export function sysextFiles(): Map<string, string> {
  const files = new Map<string, string>(UNIT_NAMES.map((name) => [`${SYSEXT.unitDirectory}/${name}`, literalText(unitFile(name, "flatcar"))]));
  files.set(`${SYSEXT.catalogDirectory}/typhoon-agent.catalog`, packagingFile("typhoon-agent.catalog"));
  return files;
}

export function literalText(template: Template): string {
  return template.parts.map((part) => (typeof part === "string" ? part : "")).join("");
}

/** Where Terraform's file provisioner copies the bundle (typhoon-agent.service and .path name it too). */
export const BUNDLE_PATH = "/home/core/assets";
export const CONFIG_PATH = "/etc/typhoon/agent.yaml";
export const TMPFILES_PATH = "/etc/tmpfiles.d/typhoon-agent.conf";

/**
 * The metrics directory (textfile_collector_dir's default), made by systemd-tmpfiles at
 * every boot before the agent's units start: their sandboxes may write it, not create it.
 */
function tmpfilesConfig(): PlacedFile {
  const mode = TEXTFILE_DIRECTORY_MODE.toString(8).padStart(4, "0");
  const text =
    "# typhoon-agent's metrics for node-exporter's textfile collector: apply and verify write them here\n" +
    "# (textfile_collector_dir), and their sandboxes can write this directory but not create it.\n" +
    `d ${TEXTFILE_COLLECTOR_DIRECTORY} ${mode} root root -\n`;
  return { path: TMPFILES_PATH, mode: 0o644, contents: { kind: "inline", text: literal(text) } };
}

export type Contents =
  | { kind: "remote"; source: Template; sha512: Template }
  | { kind: "inline"; text: Template };

export interface PlacedFile {
  path: string;
  mode: number;
  contents: Contents;
}

export interface PlacedDropIn {
  /** File name in the unit's .d directory. */
  name: string;
  contents: Template;
}

export interface PlacedUnit {
  name: string;
  /** Absent: placed, not enabled (Ignition's `enabled: false` would run systemctl disable). */
  enabled?: true;
  /** Absent: the unit file comes from elsewhere (the sysext); only drop-ins are placed. */
  contents?: Template;
  dropIns?: PlacedDropIn[];
}

/** A symbolic link Ignition creates: how a unit from the sysext is enabled. */
export interface PlacedLink {
  path: string;
  target: string;
}

export interface NodeFiles {
  files: PlacedFile[];
  links: PlacedLink[];
  units: PlacedUnit[];
}

function packagingFile(name: string): string {
  return fs.readFileSync(new URL(name, import.meta.url), "utf8");
}

/** The unit files are written for Fedora CoreOS; other distros get their binary path swapped in. */
function unitFile(name: string, distro: Distro): Template {
  const text = packagingFile(name);
  const binary = DISTROS["fedora-coreos"].binary;
  return literal(text.split(binary).join(DISTROS[distro].binary));
}

/**
 * /etc/typhoon/agent.yaml (README, "Configuration"); the agent's defaults cover the rest. An empty
 * list and null (no cloud provider) are the defaults too.
 */
function agentConfig(distro: Distro, role: Role): Template {
  const nodeKeys = templateVariables(role).filter((name): name is NodeVariable => Object.hasOwn(NODE_VARIABLES, name));
  return concat(
    literal(`# typhoon-agent configuration, placed by Ignition. Every key is also a flag.\nrole: ${role}\nruntime: ${DISTROS[distro].runtime}\n`),
    terraform`kubelet_image: ${"kubelet_image"}
cluster_dns_service_ip: ${"cluster_dns_service_ip"}
cluster_domain_suffix: ${"cluster_domain_suffix"}
`,
    ...nodeKeys.map((name) => concat(literal(`${name}: `), { parts: [{ json: name }] }, literal("\n"))),
  );
}

/**
 * Everything one node gets; the generated snippets and the boot test follow these lists.
 * A controller installs the bundle when it arrives (the path unit); a worker has no bundle
 * and runs the same service at boot, changed by a drop-in.
 */
export function agentFiles(distro: Distro, role: Role): NodeFiles {
  const layout = DISTROS[distro];
  if (layout.delivery === "sysext") return sysextNodeFiles(distro, role);
  const files: PlacedFile[] = [
    {
      path: layout.binary,
      mode: 0o755,
      contents: { kind: "remote", source: terraform`${"typhoon_agent_url"}`, sha512: terraform`${"typhoon_agent_sha512"}` },
    },
    { path: CONFIG_PATH, mode: 0o644, contents: { kind: "inline", text: agentConfig(distro, role) } },
    tmpfilesConfig(),
  ];
  if (layout.catalogDirectory !== undefined) {
    files.push({
      path: `${layout.catalogDirectory}/typhoon-agent.catalog`,
      mode: 0o644,
      contents: { kind: "inline", text: literal(packagingFile("typhoon-agent.catalog")) },
    });
  }
  const apply: PlacedUnit = { name: "typhoon-agent.service", enabled: true, contents: unitFile("typhoon-agent.service", distro) };
  const units: PlacedUnit[] = [
    ...(role === "controller"
      ? [apply, { name: "typhoon-agent.path", enabled: true, contents: unitFile("typhoon-agent.path", distro) } as const]
      : [{ ...apply, dropIns: [{ name: "worker.conf", contents: unitFile("typhoon-agent-worker.conf", distro) }] }]),
    { name: "typhoon-agent-verify.service", contents: unitFile("typhoon-agent-verify.service", distro) },
    { name: "typhoon-agent-verify.timer", enabled: true, contents: unitFile("typhoon-agent-verify.timer", distro) },
  ];
  return { files, links: [], units };
}

/**
 * Flatcar: Ignition places the sysext image (verified by its SHA-512) and enables its units
 * with links, which systemd finds once the image is merged: Flatcar's ensure-sysext.service
 * reloads systemd after systemd-sysext.service merged the images and starts what
 * multi-user.target and timers.target want (not paths.target, so the path unit hangs off
 * multi-user.target). Presets, which Ignition's `enabled` writes, are applied before the merge
 * and would find no unit. A worker's drop-in stays in /etc.
 */
function sysextNodeFiles(distro: Distro, role: Role): NodeFiles {
  const remote: Contents = { kind: "remote", source: terraform`${"typhoon_agent_url"}`, sha512: terraform`${"typhoon_agent_sha512"}` };
  const enable = (unit: string, target: string): PlacedLink => ({
    path: `/etc/systemd/system/${target}.wants/${unit}`,
    target: `${SYSEXT.unitDirectory}/${unit}`,
  });
  return {
    files: [
      { path: SYSEXT.path, mode: 0o644, contents: remote },
      { path: CONFIG_PATH, mode: 0o644, contents: { kind: "inline", text: agentConfig(distro, role) } },
      tmpfilesConfig(),
    ],
    links: [
      enable("typhoon-agent.service", "multi-user.target"),
      ...(role === "controller" ? [enable("typhoon-agent.path", "multi-user.target")] : []),
      enable("typhoon-agent-verify.timer", "timers.target"),
    ],
    units: role === "controller" ? [] : [{ name: "typhoon-agent.service", dropIns: [{ name: "worker.conf", contents: unitFile("typhoon-agent-worker.conf", distro) }] }],
  };
}
