// The committed packaging (packaging/*.yaml snippets, packaging/*.ign Ignition configs) is
// what scripts/make-ignition.ts renders from packaging/agent-files.ts, the Ignition configs
// are valid for the real ignition-validate once Terraform fills them in, each snippet
// (Butane, or the Container Linux Config) says what its Ignition config says, and the
// agent.yaml they place loads, with and without a worker pool's labels and taints. The boot
// test (test/boot.test.ts) then boots the Fedora CoreOS ones.

import { execa } from "execa";
import * as fs from "node:fs";
import * as path from "node:path";
import { FAILSAFE_SCHEMA, load } from "js-yaml";
import { describe, expect, test } from "vitest";
import { agentFiles, BUNDLE_PATH, CONFIG_PATH, DISTROS, SYSEXT, sysextFiles, templateVariables, type Distro, type Role } from "../packaging/agent-files.ts";
import {
  ignitionTemplate,
  outputName,
  PACKAGING,
  packagingOutputs,
  renderTemplate,
  ROLES,
  usedVariables,
  type TemplateValues,
} from "../scripts/make-ignition.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { analyzeRoot, analyzeUnits } from "./helpers/systemd-analyze.ts";
import { tempDir } from "./helpers/tree.ts";

/** What Typhoon would pass for a release and a default cluster and worker pool. */
const TYPHOON_VALUES: TemplateValues = {
  typhoon_agent_url: "https://github.com/poseidon/typhoon-agent/releases/download/v0.1.0/typhoon-agent-linux-x64",
  typhoon_agent_sha512: "0123456789abcdef".repeat(8),
  kubelet_image: "quay.io/poseidon/kubelet:v1.36.1",
  cluster_dns_service_ip: "10.3.0.10",
  cluster_domain_suffix: "cluster.local",
  node_labels: "",
  node_taints: "",
  cloud_provider: null,
  platform: null,
};

/** A worker pool with labels and taints of its own (join(",", var.node_labels)), on a cloud provider. */
const POOL_VALUES: TemplateValues = {
  ...TYPHOON_VALUES,
  node_labels: "example.com/pool=gpu,node.kubernetes.io/disk=ssd",
  node_taints: "nvidia.com/gpu=true:NoSchedule,example.com/dedicated:NoExecute",
  cloud_provider: "external",
  platform: "aws",
};

const VALUE_SETS = { "a default pool": TYPHOON_VALUES, "a pool with labels and taints": POOL_VALUES };

const DISTRO_NAMES = Object.keys(DISTROS) as Distro[];
const NODES = DISTRO_NAMES.flatMap((distro) => ROLES.map((role) => [distro, role] as const));

function committed(name: string): string {
  return fs.readFileSync(path.join(PACKAGING, name), "utf8");
}

/** The node's Ignition config as a template: committed for Butane distros, made here for Container Linux (ct makes its own). */
function ignitionText(distro: Distro, role: Role): string {
  return DISTROS[distro].snippet.format === "butane" ? committed(`${outputName(distro, role)}.ign`) : ignitionTemplate(agentFiles(distro, role));
}

test("the committed snippets and Ignition configs are what scripts/make-ignition.ts generates", () => {
  for (const [name, generated] of packagingOutputs()) {
    expect(committed(name), `packaging/${name} is stale: run bun scripts/make-ignition.ts`).toBe(generated);
  }
});

test.each(NODES)("%s %s: every template variable of the role is used, and nothing else is one", (distro, role) => {
  const names = [`${outputName(distro, role)}.yaml`, ...(DISTROS[distro].snippet.format === "butane" ? [`${outputName(distro, role)}.ign`] : [])];
  for (const name of names) expect(usedVariables(committed(name)).sort(), name).toEqual(templateVariables(role).sort());
});

// Typhoon passes the node variables to its worker templates only (labels and taints) and to
// every node template (cloud provider); Terraform fails on a variable a template uses and
// templatefile() was not given.
test("only workers take a pool's labels and taints; every node takes the cloud provider and the platform", () => {
  expect(templateVariables("controller")).not.toContain("node_labels");
  expect(templateVariables("controller")).toEqual(expect.arrayContaining(["cloud_provider", "platform"]));
  expect(templateVariables("worker")).toEqual(expect.arrayContaining(["node_labels", "node_taints", "cloud_provider", "platform"]));
});

const TERRAFORM = Bun.which("terraform");

test.skipIf(TERRAFORM === null)("Terraform's templatefile() renders every committed template as renderTemplate does", async () => {
  const cases = [...packagingOutputs().keys()].flatMap((name) => Object.values(VALUE_SETS).map((values) => ({ name, values })));
  // Piped, the console prints the last result only: one JSON list of them all, base64 so it is one line whatever it holds
  const renders = cases.map(({ name, values }) => `templatefile(${JSON.stringify(path.join(PACKAGING, name))}, ${hclObject(values)})`);
  const input = `base64encode(jsonencode([${renders.join(", ")}]))`;
  const result = await execa(TERRAFORM!, ["console", "-no-color"], { input, cwd: tempDir(), env: { TF_CLI_CONFIG_FILE: "/dev/null" }, reject: false });
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  const rendered = JSON.parse(Buffer.from(result.stdout.trim().slice(1, -1), "base64").toString("utf8")) as string[];
  expect(rendered).toHaveLength(cases.length);
  cases.forEach(({ name, values }, index) => expect(rendered[index], name).toBe(renderTemplate(committed(name), values)));
});

function hclObject(values: TemplateValues): string {
  return `{ ${Object.entries(values).map(([name, value]) => `${name} = ${value === null ? "null" : JSON.stringify(value)}`).join(", ")} }`;
}

interface IgnitionUnit {
  name: string;
  enabled?: boolean;
  contents?: string;
  dropins?: Array<{ name: string; contents: string }>;
}

interface IgnitionLink {
  path: string;
  target: string;
}

interface IgnitionConfig {
  storage: {
    files: Array<{ path: string; mode: number; contents: { source: string; verification?: { hash: string } } }>;
    links?: IgnitionLink[];
  };
  systemd: { units: IgnitionUnit[] };
}

describe.each(NODES)("%s %s", (distro, role) => {
  const name = outputName(distro, role);
  const layout = DISTROS[distro];
  const render = (values: TemplateValues): IgnitionConfig => JSON.parse(renderTemplate(ignitionText(distro, role), values));
  const ignition = render(TYPHOON_VALUES);
  const unit = (unitName: string): IgnitionUnit | undefined => ignition.systemd.units.find((candidate) => candidate.name === unitName);
  const sysext = layout.delivery === "sysext";
  /** A unit's text: placed by Ignition, or in the sysext image (Flatcar). */
  const unitText = (unitName: string): string | undefined => (sysext ? sysextFiles().get(`${SYSEXT.unitDirectory}/${unitName}`) : unit(unitName)?.contents);
  /** Enabled the way the distro enables it: Ignition's preset, or a link to the sysext's unit. */
  const enabledIn = (unitName: string): string | undefined =>
    sysext
      ? ignition.storage.links?.find((link) => link.target === `${SYSEXT.unitDirectory}/${unitName}`)?.path.split("/").at(-2)
      : unit(unitName)?.enabled === true
        ? "preset"
        : undefined;

  const snippet = layout.snippet;
  if (snippet.format === "butane") {
    test("ignition-validate accepts the Ignition config as Terraform renders it", async () => {
      for (const values of Object.values(VALUE_SETS)) {
        const file = path.join(tempDir(), `${name}.ign`);
        fs.writeFileSync(file, JSON.stringify(render(values)));
        const result = await execa("ignition-validate", [file], { reject: false, all: true });
        expect(result.all).toBe("");
        expect(result.exitCode).toBe(0);
      }
    });

    test("the Butane snippet places the same files and units as the Ignition config", () => {
      for (const values of Object.values(VALUE_SETS)) {
        const butane = load(renderTemplate(committed(`${name}.yaml`), values), { schema: FAILSAFE_SCHEMA }) as ButaneSnippet;
        expect(butane.variant).toBe(snippet.variant);
        expect(butane.version).toBe(snippet.version);
        expect(translateButane(butane)).toEqual(decodeIgnition(render(values)));
      }
    });
  } else {
    test("the Container Linux Config places the same files and units as the Ignition config of the same node", () => {
      for (const values of Object.values(VALUE_SETS)) {
        const config = load(renderTemplate(committed(`${name}.yaml`), values), { schema: FAILSAFE_SCHEMA }) as ContainerLinuxConfig;
        expect(config.storage.files.map((file) => file.filesystem)).toEqual(config.storage.files.map(() => "root"));
        expect(translateContainerLinuxConfig(config)).toEqual(decodeIgnition(render(values)));
      }
    });
  }

  test(`the ${sysext ? "sysext image" : "binary"} is fetched from the release URL and verified by its SHA-512`, () => {
    const placed = sysext ? { path: SYSEXT.path, mode: 0o644 } : { path: layout.binary, mode: 0o755 };
    expect(ignition.storage.files.find((file) => file.path === placed.path)).toEqual({
      ...placed,
      contents: { source: TYPHOON_VALUES.typhoon_agent_url, verification: { hash: `sha512-${TYPHOON_VALUES.typhoon_agent_sha512}` } },
    });
    expect(ignition.storage.files.some((file) => file.path === layout.binary)).toBe(!sysext);
  });

  test("the agent's configuration names the node's role and the distro's runtime", () => {
    expect(agentYaml(ignition)).toContain(`\nrole: ${role}\nruntime: ${layout.runtime}\n`);
  });

  test("the agent loads the agent.yaml Terraform renders, and keeps a pool's labels, taints and cloud provider", async () => {
    for (const [what, values] of Object.entries(VALUE_SETS)) {
      const file = path.join(tempDir(), "agent.yaml");
      fs.writeFileSync(file, agentYaml(render(values)));
      const result = await runAgent(["render", "agent-config", "--config", file]);
      expect(result.stderr, what).toBe("");
      expect(result.exitCode, what).toBe(0);
      const effective = load(result.stdout) as Record<string, unknown>;
      expect(effective, what).toMatchObject({ role, runtime: layout.runtime, kubelet_image: values.kubelet_image });
      expect(effective.cloud_provider, what).toBe(values.cloud_provider ?? undefined);
      expect(effective.platform, what).toBe(values.platform ?? "none");
      const list = (joined: string | null | undefined): string[] => (role === "worker" ? (joined ?? "").split(",").filter((item) => item !== "") : []);
      expect(effective.node_labels, what).toEqual(list(values.node_labels));
      expect(effective.node_taints, what).toEqual(list(values.node_taints));
    }
  });

  if (role === "controller") {
    test("apply runs the binary where this distro's snippet puts it, on the bundle the file provisioner drops or rewrites", () => {
      expect(unitText("typhoon-agent.service")).toContain(`\nExecStart=${layout.binary} apply ${BUNDLE_PATH}\n`);
      expect(unitText("typhoon-agent.service")).toContain(`\nConditionPathExists=${BUNDLE_PATH}\n`);
      // PathChanged=: a rejected bundle that stays does not start the service again and again
      expect(unitText("typhoon-agent.path")).toContain(`\nPathChanged=${BUNDLE_PATH}\n`);
      expect(unitText("typhoon-agent.path")).not.toMatch(/^PathExists=/m);
      expect(unit("typhoon-agent.service")?.dropins).toBeUndefined();
      expect(enabledIn("typhoon-agent.service")).toBe(sysext ? "multi-user.target.wants" : "preset");
      // Flatcar's ensure-sysext.service starts what multi-user.target wants after the merge, not paths.target
      expect(enabledIn("typhoon-agent.path")).toBe(sysext ? "multi-user.target.wants" : "preset");
    });
  } else {
    test("a worker runs apply at boot without a bundle: a drop-in clears the bundle condition and argument", () => {
      const service = unit("typhoon-agent.service")!;
      expect(enabledIn("typhoon-agent.service")).toBe(sysext ? "multi-user.target.wants" : "preset");
      expect(service.dropins?.map((dropIn) => dropIn.name)).toEqual(["worker.conf"]);
      expect(service.dropins![0]!.contents).toContain(`\nConditionPathExists=\n`);
      expect(service.dropins![0]!.contents).toContain(`\nExecStart=\nExecStart=${layout.binary} apply\n`);
      expect(unit("typhoon-agent.path")).toBeUndefined();
      expect(enabledIn("typhoon-agent.path")).toBeUndefined();
    });
  }

  test("the journal catalog goes where journalctl --update-catalog reads it, where the distro has such a place", () => {
    const catalog = ignition.storage.files.find((file) => file.path.endsWith("/typhoon-agent.catalog"));
    expect(catalog?.path).toBe(layout.catalogDirectory === undefined ? undefined : `${layout.catalogDirectory}/typhoon-agent.catalog`);
    // Flatcar: in the sysext image, at /usr/lib/systemd/catalog, which journalctl --update-catalog reads
    if (sysext) expect([...sysextFiles().keys()]).toContain(`${SYSEXT.catalogDirectory}/typhoon-agent.catalog`);
  });

  test("the verify timer is enabled and fires daily with a randomized delay; its service is started only by it", () => {
    expect(unitText("typhoon-agent-verify.service")).toContain(`\nExecStart=${layout.binary} verify\n`);
    const timer = unitText("typhoon-agent-verify.timer")!;
    expect(enabledIn("typhoon-agent-verify.timer")).toBe(sysext ? "timers.target.wants" : "preset");
    expect(timer).toMatch(/\nOnCalendar=daily\n/);
    expect(timer).toMatch(/\nRandomizedDelaySec=\S+\n/);
    expect(timer).toMatch(/\nPersistent=true\n/);
    // Absent, not false: Ignition runs systemctl disable for enabled: false.
    expect(unit("typhoon-agent-verify.service") ?? {}).not.toHaveProperty("enabled");
    expect(enabledIn("typhoon-agent-verify.service")).toBeUndefined();
  });

  test("systemd-analyze verify accepts every unit, drop-ins included, without a warning", async () => {
    const root = analyzeRoot([layout.binary, "/usr/bin/kubelet"]);
    const units: Record<string, string> = { "kubelet.service": "[Service]\nExecStart=/usr/bin/kubelet\n" }; // written by apply; ordering needs it
    const roleUnits = ["typhoon-agent.service", ...(role === "controller" ? ["typhoon-agent.path"] : []), "typhoon-agent-verify.service", "typhoon-agent-verify.timer"];
    for (const name of roleUnits) units[name] = unitText(name)!;
    for (const placed of ignition.systemd.units) {
      for (const dropIn of placed.dropins ?? []) units[`${placed.name}.d/${dropIn.name}`] = dropIn.contents;
    }
    expect(await analyzeUnits(root, units)).toEqual({ exitCode: 0, stderr: "" });
  });
});

function agentYaml(ignition: IgnitionConfig): string {
  const config = ignition.storage.files.find((file) => file.path === CONFIG_PATH)!;
  return decodeURIComponent(config.contents.source.slice("data:,".length));
}

// The subsets of Butane and of the Container Linux Config these snippets use, and their
// translation to Ignition: data URLs are compared decoded, since Butane and ct encode them
// their own way (Butane also compresses). YAML is read with the failsafe schema, so every
// scalar is a string: modes are octal as written (YAML 1.1, which ct reads, and Butane).
interface ButaneSnippet {
  variant: string;
  version: string;
  storage: {
    files: Array<{ path: string; mode: string; contents: { inline?: string; source?: string; verification?: { hash: string } } }>;
    links?: IgnitionLink[];
  };
  systemd?: { units: Array<{ name: string; enabled?: string; contents?: string; dropins?: Array<{ name: string; contents: string }> }> };
}

interface ContainerLinuxConfig {
  storage: {
    files: Array<{
      path: string;
      filesystem: string;
      mode: string;
      contents: { inline?: string; remote?: { url: string; verification: { hash: { function: string; sum: string } } } };
    }>;
  };
  systemd: { units: Array<{ name: string; enable?: string; contents: string; dropins?: Array<{ name: string; contents: string }> }> };
}

interface PlacedForComparison {
  files: Array<{ path: string; mode: number; text?: string; source?: string; hash?: string }>;
  links?: IgnitionLink[];
  units: IgnitionUnit[];
}

function translateButane(butane: ButaneSnippet): PlacedForComparison {
  return {
    files: butane.storage.files.map((file) => ({
      path: file.path,
      mode: Number.parseInt(file.mode, 8),
      ...(file.contents.inline !== undefined
        ? { text: file.contents.inline }
        : { source: file.contents.source!, hash: file.contents.verification!.hash }),
    })),
    ...(butane.storage.links === undefined ? {} : { links: butane.storage.links }),
    units: (butane.systemd?.units ?? []).map((unit) => ({
      name: unit.name,
      ...(unit.enabled === undefined ? {} : { enabled: unit.enabled === "true" }),
      ...(unit.contents === undefined ? {} : { contents: unit.contents }),
      ...(unit.dropins === undefined ? {} : { dropins: unit.dropins }),
    })),
  };
}

function translateContainerLinuxConfig(config: ContainerLinuxConfig): PlacedForComparison {
  return {
    files: config.storage.files.map((file) => ({
      path: file.path,
      mode: Number.parseInt(file.mode, 8),
      ...(file.contents.inline !== undefined
        ? { text: file.contents.inline }
        : {
            source: file.contents.remote!.url,
            hash: `${file.contents.remote!.verification.hash.function}-${file.contents.remote!.verification.hash.sum}`,
          }),
    })),
    units: config.systemd.units.map((unit) => ({
      name: unit.name,
      ...(unit.enable === undefined ? {} : { enabled: unit.enable === "true" }),
      contents: unit.contents,
      ...(unit.dropins === undefined ? {} : { dropins: unit.dropins }),
    })),
  };
}

function decodeIgnition(ignition: IgnitionConfig): PlacedForComparison {
  return {
    files: ignition.storage.files.map((file) =>
      file.contents.source.startsWith("data:,")
        ? { path: file.path, mode: file.mode, text: decodeURIComponent(file.contents.source.slice("data:,".length)) }
        : { path: file.path, mode: file.mode, source: file.contents.source, hash: file.contents.verification!.hash },
    ),
    ...(ignition.storage.links === undefined ? {} : { links: ignition.storage.links }),
    units: ignition.systemd.units,
  };
}
