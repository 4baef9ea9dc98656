// The committed packaging (packaging/*.yaml Butane snippets, packaging/*.ign Ignition
// configs) is what scripts/make-ignition.ts renders from packaging/agent-files.ts, the
// Ignition configs are valid for the real ignition-validate once Terraform fills them in,
// and each Butane snippet says what its Ignition config says. The boot test
// (test/boot.test.ts) then boots the Fedora CoreOS one.

import { execa } from "execa";
import * as fs from "node:fs";
import * as path from "node:path";
import { FAILSAFE_SCHEMA, load } from "js-yaml";
import { describe, expect, test } from "vitest";
import { BUNDLE_PATH, CONFIG_PATH, DISTROS, TEMPLATE_VARIABLES, type Distro, type TemplateVariable } from "../packaging/agent-files.ts";
import { renderTemplate } from "../scripts/make-bundle.ts";
import { outputName, PACKAGING, packagingOutputs, ROLES } from "../scripts/make-ignition.ts";
import { analyzeRoot, analyzeUnits } from "./helpers/systemd-analyze.ts";
import { tempDir } from "./helpers/tree.ts";

/** What Typhoon would pass for a release and a default cluster. */
const TYPHOON_VALUES: Record<TemplateVariable, string> = {
  typhoon_agent_url: "https://github.com/poseidon/typhoon-agent/releases/download/v0.1.0/typhoon-agent-linux-x64",
  typhoon_agent_sha512: "0123456789abcdef".repeat(8),
  kubelet_image: "quay.io/poseidon/kubelet:v1.36.1",
  cluster_dns_service_ip: "10.3.0.10",
  cluster_domain_suffix: "cluster.local",
};

const DISTRO_NAMES = Object.keys(DISTROS) as Distro[];

function committed(name: string): string {
  return fs.readFileSync(path.join(PACKAGING, name), "utf8");
}

test("the committed snippets and Ignition configs are what scripts/make-ignition.ts generates", () => {
  for (const [name, generated] of packagingOutputs()) {
    expect(committed(name), `packaging/${name} is stale: run bun scripts/make-ignition.ts`).toBe(generated);
  }
});

test("every template variable is used, and nothing else is one", () => {
  for (const name of packagingOutputs().keys()) {
    const used = new Set([...committed(name).matchAll(/(?<!\$)\$\{([^}]*)\}/g)].map((match) => match[1]));
    expect([...used].sort(), name).toEqual(Object.keys(TEMPLATE_VARIABLES).sort());
  }
});

interface IgnitionUnit {
  name: string;
  enabled?: boolean;
  contents: string;
  dropins?: Array<{ name: string; contents: string }>;
}

describe.each(DISTRO_NAMES.flatMap((distro) => ROLES.map((role) => [distro, role] as const)))("%s %s", (distro, role) => {
  const name = outputName(distro, role);
  const ignition = JSON.parse(renderTemplate(committed(`${name}.ign`), TYPHOON_VALUES, {}));
  const unit = (unitName: string): IgnitionUnit | undefined => ignition.systemd.units.find((candidate: IgnitionUnit) => candidate.name === unitName);

  test("ignition-validate accepts the Ignition config as Terraform renders it", async () => {
    const file = path.join(tempDir(), `${name}.ign`);
    fs.writeFileSync(file, JSON.stringify(ignition));
    const result = await execa("ignition-validate", [file], { reject: false, all: true });
    expect(result.all).toBe("");
    expect(result.exitCode).toBe(0);
  });

  test("the Butane snippet places the same files and units as the Ignition config", () => {
    const butane = load(renderTemplate(committed(`${name}.yaml`), TYPHOON_VALUES, {}), { schema: FAILSAFE_SCHEMA }) as ButaneSnippet;
    expect(butane.variant).toBe(DISTROS[distro].butane.variant);
    expect(butane.version).toBe(DISTROS[distro].butane.version);
    expect(translateButane(butane)).toEqual(decodeIgnition(ignition));
  });

  test("the binary is fetched from the release URL and verified by its SHA-512", () => {
    const binary = ignition.storage.files.find((file: { path: string }) => file.path === DISTROS[distro].binary);
    expect(binary).toEqual({
      path: DISTROS[distro].binary,
      mode: 0o755,
      contents: { source: TYPHOON_VALUES.typhoon_agent_url, verification: { hash: `sha512-${TYPHOON_VALUES.typhoon_agent_sha512}` } },
    });
  });

  test("the agent's configuration names the node's role and the distro's runtime", () => {
    const config = ignition.storage.files.find((file: { path: string }) => file.path === CONFIG_PATH);
    const text = decodeURIComponent(config.contents.source.slice("data:,".length));
    expect(text).toContain(`\nrole: ${role}\nruntime: ${DISTROS[distro].runtime}\n`);
  });

  if (role === "controller") {
    test("apply runs the binary where this distro's snippet puts it, on the bundle the file provisioner drops", () => {
      expect(unit("typhoon-agent.service")!.contents).toContain(`\nExecStart=${DISTROS[distro].binary} apply ${BUNDLE_PATH}\n`);
      expect(unit("typhoon-agent.service")!.contents).toContain(`\nConditionPathExists=${BUNDLE_PATH}\n`);
      expect(unit("typhoon-agent.path")!.contents).toContain(`\nPathExists=${BUNDLE_PATH}\n`);
      expect(unit("typhoon-agent.service")!.dropins).toBeUndefined();
    });
  } else {
    test("a worker runs apply at boot without a bundle: a drop-in clears the bundle condition and argument", () => {
      const service = unit("typhoon-agent.service")!;
      expect(service.enabled).toBe(true);
      expect(service.dropins?.map((dropIn) => dropIn.name)).toEqual(["worker.conf"]);
      expect(service.dropins![0]!.contents).toContain(`\nConditionPathExists=\n`);
      expect(service.dropins![0]!.contents).toContain(`\nExecStart=\nExecStart=${DISTROS[distro].binary} apply\n`);
      expect(unit("typhoon-agent.path")).toBeUndefined();
    });
  }

  test("the verify timer is enabled and fires daily with a randomized delay; its service is started only by it", () => {
    expect(unit("typhoon-agent-verify.service")!.contents).toContain(`\nExecStart=${DISTROS[distro].binary} verify\n`);
    const timer = unit("typhoon-agent-verify.timer")!;
    expect(timer.enabled).toBe(true);
    expect(timer.contents).toMatch(/\nOnCalendar=daily\n/);
    expect(timer.contents).toMatch(/\nRandomizedDelaySec=\S+\n/);
    expect(timer.contents).toMatch(/\nPersistent=true\n/);
    // Absent, not false: Ignition runs systemctl disable for enabled: false.
    expect(unit("typhoon-agent-verify.service")).not.toHaveProperty("enabled");
  });

  test("systemd-analyze verify accepts every unit, drop-ins included, without a warning", async () => {
    const root = analyzeRoot([DISTROS[distro].binary, "/usr/bin/kubelet"]);
    const units: Record<string, string> = { "kubelet.service": "[Service]\nExecStart=/usr/bin/kubelet\n" }; // written by apply; ordering needs it
    for (const placed of ignition.systemd.units as IgnitionUnit[]) {
      units[placed.name] = placed.contents;
      for (const dropIn of placed.dropins ?? []) units[`${placed.name}.d/${dropIn.name}`] = dropIn.contents;
    }
    expect(await analyzeUnits(root, units)).toEqual({ exitCode: 0, stderr: "" });
  });
});

// The subset of Butane these snippets use, and its translation to Ignition: data URLs are
// compared decoded, since Butane encodes them its own way (it also compresses).
interface ButaneSnippet {
  variant: string;
  version: string;
  storage: { files: Array<{ path: string; mode: string; contents: { inline?: string; source?: string; verification?: { hash: string } } }> };
  systemd: { units: Array<{ name: string; enabled?: string; contents: string; dropins?: Array<{ name: string; contents: string }> }> };
}

interface PlacedForComparison {
  files: Array<{ path: string; mode: number; text?: string; source?: string; hash?: string }>;
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
    units: butane.systemd.units.map((unit) => ({
      name: unit.name,
      ...(unit.enabled === undefined ? {} : { enabled: unit.enabled === "true" }),
      contents: unit.contents,
      ...(unit.dropins === undefined ? {} : { dropins: unit.dropins }),
    })),
  };
}

function decodeIgnition(ignition: {
  storage: { files: Array<{ path: string; mode: number; contents: { source: string; verification?: { hash: string } } }> };
  systemd: { units: IgnitionUnit[] };
}): PlacedForComparison {
  return {
    files: ignition.storage.files.map((file) =>
      file.contents.source.startsWith("data:,")
        ? { path: file.path, mode: file.mode, text: decodeURIComponent(file.contents.source.slice("data:,".length)) }
        : { path: file.path, mode: file.mode, source: file.contents.source, hash: file.contents.verification!.hash },
    ),
    units: ignition.systemd.units,
  };
}
