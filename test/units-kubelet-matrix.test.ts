// Every supported runtime × role × platform × kubelet release renders a kubelet.service that
// systemd-analyze verify accepts and a kubelet.yaml and command line that release accepts:
// each kubelet.yaml field is checked against the kubelet's own types of that release
// (test/fixtures/kubelet-config-fields.json, extracted from kubernetes/kubelet per tag),
// each flag against the flag table. Releases the agent cannot configure, and rkt with a
// kubelet that refuses cgroup v1, are refused with exit 78 naming why.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { PLATFORM_CHOICES } from "../agent/config/keys.ts";
import type { Role, Runtime } from "../agent/config/types.ts";
import { ConfigError } from "../agent/errors.ts";
import { renderKubeletService } from "../agent/units/kubelet-service.ts";
import {
  FAILS_ON_CGROUP_V1_SINCE,
  KUBELET_CONFIG_FIELDS,
  KUBELET_FLAGS,
  NEWEST_CHECKED_MINOR,
  OLDEST_SUPPORTED_MINOR,
  accepts,
  fieldPaths,
} from "../agent/units/kubelet-versions.ts";
import { defaultConfig } from "../agent/config/keys.ts";
import { analyzeRoot, analyzeUnits } from "./helpers/systemd-analyze.ts";
import { flagValues, render, values } from "./helpers/kubelet-unit.ts";

interface FieldsFixture {
  tags: [number, number];
  fields: Record<string, [number, number]>;
}
const FIXTURE = JSON.parse(fs.readFileSync(path.join(import.meta.dir, "fixtures/kubelet-config-fields.json"), "utf8")) as FieldsFixture;

const RUNTIMES: readonly Runtime[] = ["podman", "docker", "rkt"];
const ROLES: readonly Role[] = ["controller", "worker"];
const PLATFORMS = PLATFORM_CHOICES;
/** The oldest supported, the last before each field's own arrival, and the newest checked. */
const MINORS = [...new Set([OLDEST_SUPPORTED_MINOR, 22, 23, 26, 27, FAILS_ON_CGROUP_V1_SINCE - 1, FAILS_ON_CGROUP_V1_SINCE, NEWEST_CHECKED_MINOR])].sort((a, b) => a - b);

function runsOn(runtime: Runtime, minor: number): boolean {
  return runtime !== "rkt" || minor < FAILS_ON_CGROUP_V1_SINCE;
}

function knownTo(minor: number, name: string): boolean {
  const range = FIXTURE.fields[name];
  return range !== undefined && minor >= range[0] && minor <= range[1];
}

const CASES = RUNTIMES.flatMap((runtime) =>
  ROLES.flatMap((role) => PLATFORMS.flatMap((platform) => MINORS.filter((minor) => runsOn(runtime, minor)).map((minor) => ({ runtime, role, platform, minor })))),
);

function renderCase(c: (typeof CASES)[number]) {
  return render(c.runtime, {
    role: c.role,
    platform: c.platform,
    kubelet_image: `quay.io/poseidon/kubelet:v1.${c.minor}.0`,
    node_labels: ["example.com/pool=a"],
    node_taints: ["example.com/gpu=true:NoSchedule"],
    cloud_provider: "external",
  });
}

describe("the kubelet's own tables", () => {
  test("each field row's release range is the one the kubelet's types show (a later `since` only with its reason)", () => {
    for (const [field, row] of Object.entries(KUBELET_CONFIG_FIELDS)) {
      const name = field.split(".").at(-1)!;
      if (name === "apiVersion" || name === "kind") continue;
      const range = FIXTURE.fields[name];
      expect(range, `${field} is not in any kubelet's types`).toBeDefined();
      if (row.note === undefined) expect(row.since, field).toBe(range![0]);
      else expect(row.since, field).toBeGreaterThan(range![0]);
      expect(row.until, field).toBe(range![1] < FIXTURE.tags[1] ? range![1] : undefined);
    }
  });

  test(`the oldest supported release is 1.${OLDEST_SUPPORTED_MINOR}: the newest field with no flag form arrived then`, () => {
    const flagless = Object.entries(KUBELET_CONFIG_FIELDS).filter(([, row]) => row.flag === undefined);
    expect(Math.max(...flagless.map(([, row]) => row.since))).toBe(OLDEST_SUPPORTED_MINOR);
    expect(OLDEST_SUPPORTED_MINOR).toBe(21);
  });
});

describe("every supported runtime × role × platform × kubelet release", () => {
  test.each(CASES.map((c) => [`${c.runtime} ${c.role} ${c.platform} 1.${c.minor}`, c] as const))("%s: the release accepts every field and flag", (_name, c) => {
    const { kubeletYaml, execStart } = renderCase(c);
    for (const field of fieldPaths(kubeletYaml)) {
      if (field === "apiVersion" || field === "kind") continue;
      for (const name of field.split(".")) expect(knownTo(c.minor, name), `1.${c.minor} does not know ${field}`).toBe(true);
    }
    for (const flag of execStart.kubeletFlags) {
      const name = /^--([a-z-]+)=/.exec(flag)?.[1];
      expect(name, flag).toBeDefined();
      const row = KUBELET_FLAGS[name!];
      expect(row !== undefined && accepts(row, c.minor), `1.${c.minor} does not take --${name}`).toBe(true);
    }
    // what a release lacks in kubelet.yaml still reaches it, as a flag
    const taints = c.role === "controller" ? "node-role.kubernetes.io/controller=:NoSchedule,example.com/gpu=true:NoSchedule" : "example.com/gpu=true:NoSchedule";
    if (c.minor < 23) expect(flagValues(execStart.kubeletFlags, "register-with-taints")).toEqual([taints]);
    else expect(flagValues(execStart.kubeletFlags, "register-with-taints")).toEqual([]);
    const endpoint = c.minor < 27 ? flagValues(execStart.kubeletFlags, "container-runtime-endpoint") : [kubeletYaml.containerRuntimeEndpoint];
    expect(endpoint).toEqual(["unix:///run/containerd/containerd.sock"]);
    expect(flagValues(execStart.kubeletFlags, "container-runtime")).toEqual(c.minor < 24 ? ["remote"] : []);
  });

  test("systemd-analyze verify accepts every one of those units", async () => {
    const root = analyzeRoot(["/usr/bin/podman", "/usr/bin/docker", "/usr/bin/rkt", "/usr/bin/bash", "/bin/mkdir"]);
    for (const unit of ["afterburn.service", "coreos-metadata.service"]) {
      fs.writeFileSync(path.join(root, "usr/lib/systemd/system", unit), "[Service]\nType=oneshot\nExecStart=/bin/mkdir -p /run/metadata\n");
    }
    const units = Object.fromEntries(CASES.map((c) => [`kubelet-${c.runtime}-${c.role}-${c.platform}-${c.minor}.service`, renderCase(c).text]));
    expect(await analyzeUnits(root, units)).toEqual({ exitCode: 0, stderr: "" });
    fs.rmSync(root, { recursive: true });
  }, 120_000);
});

describe("refused where it cannot work (exit 78)", () => {
  function refusal(action: () => unknown): ConfigError {
    let caught: unknown;
    try {
      action();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).exitCode).toBe(78);
    return caught as ConfigError;
  }

  test.each(RUNTIMES)(`%s: a kubelet older than 1.${OLDEST_SUPPORTED_MINOR}, naming the fields it lacks`, (runtime) => {
    const error = refusal(() => render(runtime, { kubelet_image: `quay.io/poseidon/kubelet:v1.${OLDEST_SUPPORTED_MINOR - 1}.4` }));
    expect(error.key).toBe("kubelet_image");
    expect(error.message).toContain(`kubelet v1.${OLDEST_SUPPORTED_MINOR - 1}.4 is older than 1.${OLDEST_SUPPORTED_MINOR}`);
    expect(error.message).toContain("shutdownGracePeriod");
    const pinned = refusal(() => render(runtime, { kubelet_image: `example.com/kubelet@sha256:${"b".repeat(64)}`, kubelet_version: "1.19" }));
    expect(pinned.key).toBe("kubelet_version");
  });

  test.each([FAILS_ON_CGROUP_V1_SINCE, NEWEST_CHECKED_MINOR])("rkt with kubelet 1.%i: cgroup v1, Container Linux's end of life, and what works instead", (minor) => {
    const config = { ...defaultConfig(), kubelet_image: `quay.io/poseidon/kubelet:v1.${minor}.0` };
    const error = refusal(() => renderKubeletService(config, "rkt"));
    expect(error.key).toBe("runtime");
    expect(error.message).toContain("cgroup v1");
    expect(error.message).toContain("failCgroupV1");
    expect(error.message).toContain("end of life");
    expect(error.message).toContain("multi-architecture");
    expect(error.hint).toContain("Flatcar Linux (runtime docker)");
  });

  test("an image pinned by digest alone needs kubelet_version, and a kubelet_version that contradicts the tag is refused", () => {
    const digest = `quay.io/poseidon/kubelet@sha256:${"c".repeat(64)}`;
    const missing = refusal(() => render("podman", { kubelet_image: digest }));
    expect(missing.key).toBe("kubelet_version");
    expect(missing.message).toContain("has no tag");
    expect(missing.hint).toContain("kubelet_version");
    expect(render("podman", { kubelet_image: digest, kubelet_version: "1.36" }).execStart.image).toBe(digest);
    expect(render("podman", { kubelet_image: `quay.io/poseidon/kubelet:v1.36.1@sha256:${"c".repeat(64)}` }).execStart.image).toContain("v1.36.1@");
    const contradiction = refusal(() => render("podman", { kubelet_version: "1.35" }));
    expect(contradiction.key).toBe("kubelet_version");
    expect(contradiction.message).toContain("disagrees with the tag");
    const notAVersion = refusal(() => render("podman", { kubelet_image: "quay.io/poseidon/kubelet:latest-build" }));
    expect(notAVersion.message).toContain('has the tag "latest-build", which is not a version');
  });
});

describe("platform aws matches Typhoon's head (test/fixtures/upstream/typhoon/head, its AWS modules)", () => {
  const HEAD = path.join(import.meta.dir, "fixtures/upstream/typhoon/head");
  const CASES_BY_OS = [
    ["fedora-coreos", "podman"],
    ["flatcar-linux", "docker"],
  ] as const;

  test.each(CASES_BY_OS.flatMap(([os, runtime]) => ROLES.map((role) => [`${os}-${role}`, runtime, role] as const)))("%s", (name, runtime, role) => {
    const upstream = fs.readFileSync(path.join(HEAD, `${name}.yaml`), "utf8");
    // the kubelet unit's lines, with Terraform's $${ escape undone
    const unitLines = upstream.slice(upstream.indexOf("name: kubelet.service")).split("\n").map((line) => line.trim().replaceAll("$${", "${").replace(/ \\$/, ""));
    const wanted = unitLines.filter((line) => /^(Requires|After)=(afterburn|coreos-metadata)\.service$|^EnvironmentFile=|^--provider-id=/.test(line));
    expect(wanted).toHaveLength(4);
    const { unit, execStart } = render(runtime, { role, platform: "aws" });
    const ours = [...values(unit, "Unit", "Requires"), ...values(unit, "Unit", "After")];
    for (const line of wanted.slice(0, 2)) expect(ours.map((value) => `${line.split("=")[0]}=${value}`)).toContain(line);
    expect(values(unit, "Service", "EnvironmentFile").map((value) => `EnvironmentFile=${value}`)).toEqual([wanted[2]!]);
    expect(execStart.kubeletFlags.filter((flag) => flag.startsWith("--provider-id="))).toEqual([wanted[3]!]);
  });
});

describe("the other platforms render what Typhoon's modules for them render", () => {
  test.each([
    ["podman", "AFTERBURN_DIGITALOCEAN_IPV4_PRIVATE_0", "afterburn.service", "/run/metadata/afterburn"],
    ["docker", "COREOS_DIGITALOCEAN_IPV4_PRIVATE_0", "coreos-metadata.service", "/run/metadata/coreos"],
  ] as const)("digital-ocean (%s): the droplet's private IPv4 as the node name, from the metadata agent", (runtime, variable, unitName, file) => {
    const { unit, execStart } = render(runtime, { platform: "digital-ocean" });
    expect(values(unit, "Unit", "Requires")).toContain(unitName);
    expect(values(unit, "Unit", "After")).toContain(unitName);
    expect(values(unit, "Service", "EnvironmentFile")).toEqual([file]);
    expect(flagValues(execStart.kubeletFlags, "hostname-override")).toEqual([`\${${variable}}`]);
  });

  test.each(RUNTIMES)("bare-metal (%s): the host name Typhoon's Ignition config sets, as systemd knows it (%%H), no metadata agent", (runtime) => {
    const { unit, execStart } = render(runtime, { platform: "bare-metal" });
    expect(flagValues(execStart.kubeletFlags, "hostname-override")).toEqual(["%H"]);
    expect(values(unit, "Service", "EnvironmentFile")).toEqual([]);
  });

  test.each(["none", "azure", "google-cloud"] as const)("%s: nothing beyond the common unit", (platform) => {
    const plain = render("podman");
    expect(render("podman", { platform }).text).toBe(plain.text);
  });
});
