// kubelet.service for podman, docker and rkt, golden-free: each rendered unit is parsed
// back the way systemd reads it, its ExecStart taken apart the way the runtime reads it,
// and the mounts and kubelet flags found there are checked against the mounts table and
// against the README's kubelet.service invariants. systemd-analyze verifies every unit.

import * as fs from "node:fs";
import { load } from "js-yaml";
import { describe, expect, test } from "vitest";
import { defaultConfig } from "../agent/config/keys.ts";
import type { AgentConfig, Role, Runtime } from "../agent/config/types.ts";
import { KUBELET_MOUNTS } from "../agent/units/mounts.ts";
import { renderNodeFiles } from "../agent/units/node-files.ts";
import { analyzeRoot, analyzeUnits } from "./helpers/systemd-analyze.ts";

const RUNTIMES: readonly Runtime[] = ["podman", "docker", "rkt"];
const ROLES: readonly Role[] = ["controller", "worker"];

// ---- reading a unit file as systemd does ----------------------------------------------

interface Unit {
  /** section → [key, value] in file order (keys repeat: ExecStartPre). */
  sections: Map<string, Array<[string, string]>>;
}

function parseUnit(text: string): Unit {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  const logical = text.replaceAll("\\\n", " ").split("\n");
  for (const line of logical) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header !== null) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const equals = line.indexOf("=");
    if (current === undefined || equals < 0) throw new Error(`not a unit line: ${line}`);
    current.push([line.slice(0, equals), line.slice(equals + 1)]);
  }
  return { sections };
}

function values(unit: Unit, section: string, key: string): string[] {
  return (unit.sections.get(section) ?? []).filter(([name]) => name === key).map(([, value]) => value);
}

/** systemd.service(5) "Command lines": words, quotes, backslash escapes, $$ and %%. */
function splitCommand(value: string): { ignoreFailure: boolean; words: string[] } {
  const ignoreFailure = value.startsWith("-");
  const text = ignoreFailure ? value.slice(1) : value;
  const words: string[] = [];
  let index = 0;
  while (index < text.length) {
    while (text[index] === " ") index++;
    if (index >= text.length) break;
    let word = "";
    const quote = text[index] === '"' || text[index] === "'" ? text[index++] : undefined;
    while (index < text.length && (quote === undefined ? text[index] !== " " : text[index] !== quote)) {
      const character = text[index++]!;
      if (character === "\\") word += text[index++];
      else if ((character === "$" || character === "%") && text[index] === character) word += text[index++];
      else if (character === "$" || character === "%") throw new Error(`unescaped ${character} would be expanded by systemd: ${value}`);
      else word += character;
    }
    if (quote !== undefined) index++;
    words.push(word);
  }
  return { ignoreFailure, words };
}

// ---- reading the runtime's command line ----------------------------------------------

interface ParsedMount {
  host: string;
  container: string;
  readOnly: boolean;
  propagation: "rprivate" | "rshared";
  selinuxRelabel: boolean;
}

interface ParsedExecStart {
  executable: string;
  mounts: ParsedMount[];
  image: string;
  kubeletFlags: string[];
}

/** Options of `podman run` / `docker run` that take a separate value. */
const VALUED_OPTIONS = new Set(["--name", "--log-driver", "--pid", "--network", "--volume"]);

function parseBindRun(words: readonly string[]): ParsedExecStart {
  const mounts: ParsedMount[] = [];
  let index = 2; // "/usr/bin/podman run"
  while (words[index]!.startsWith("-")) {
    const option = words[index]!;
    const value = VALUED_OPTIONS.has(option) ? words[++index]! : undefined;
    if (option === "--volume") {
      const [host, container, options = ""] = value!.split(":") as [string, string, string?];
      const flags = options.split(",");
      mounts.push({
        host,
        container,
        readOnly: flags.includes("ro"),
        propagation: flags.includes("rshared") ? "rshared" : "rprivate",
        selinuxRelabel: flags.includes("z"),
      });
    }
    index++;
  }
  return { executable: words[0]!, mounts, image: words[index]!, kubeletFlags: words.slice(index + 1) };
}

function parseRktRun(words: readonly string[]): ParsedExecStart {
  const volumes = new Map<string, Map<string, string>>();
  const mounts: ParsedMount[] = [];
  let index = 2; // "/usr/bin/rkt run"
  while (!words[index]!.startsWith("docker://")) {
    const option = words[index]!;
    if (option === "--volume" || option === "--mount") {
      const fields = new Map(words[++index]!.split(",").map((pair) => pair.split("=") as [string, string]));
      if (option === "--volume") {
        const name = [...fields.keys()][0]!;
        expect(volumes.has(name), `volume ${name} declared twice`).toBe(false);
        volumes.set(name, fields);
      } else {
        const volume = volumes.get(fields.get("volume")!);
        expect(volume, `--mount of undeclared volume ${fields.get("volume")}`).toBeDefined();
        expect(volume!.get("kind")).toBe("host");
        // Like docker's and podman's rbind: without it, submounts (cgroup v1 controllers) vanish.
        expect(volume!.get("recursive")).toBe("true");
        mounts.push({
          host: volume!.get("source")!,
          container: fields.get("target")!,
          readOnly: volume!.get("readOnly") === "true",
          // stage1-fly makes every volume source rshared; it has no per-volume setting.
          propagation: "rshared",
          // rkt has no per-volume SELinux relabel.
          selinuxRelabel: false,
        });
      }
    }
    index++;
  }
  const image = words[index]!.slice("docker://".length);
  const separator = words.indexOf("--", index);
  expect(words.slice(index + 1, separator)).toEqual(["--exec=/usr/local/bin/kubelet"]);
  return { executable: words[0]!, mounts, image, kubeletFlags: words.slice(separator + 1) };
}

interface Rendered {
  unit: Unit;
  text: string;
  execStart: ParsedExecStart;
  kubeletYaml: Record<string, unknown>;
}

function render(runtime: Runtime, overrides: Partial<AgentConfig> = {}): Rendered {
  const config = { ...defaultConfig(), ...overrides };
  const files = renderNodeFiles(config, runtime);
  expect(files.map((file) => [file.path, file.mode])).toEqual([
    ["/etc/systemd/system/kubelet.service", 0o644],
    ["/etc/kubernetes/kubelet.yaml", 0o644],
  ]);
  const text = files[0]!.content;
  const unit = parseUnit(text);
  const execStarts = values(unit, "Service", "ExecStart");
  expect(execStarts).toHaveLength(1);
  const { words } = splitCommand(execStarts[0]!);
  const execStart = runtime === "rkt" ? parseRktRun(words) : parseBindRun(words);
  return { unit, text, execStart, kubeletYaml: load(files[1]!.content) as Record<string, unknown> };
}

function flagValues(flags: readonly string[], name: string): string[] {
  return flags.filter((flag) => flag.startsWith(`--${name}=`)).map((flag) => flag.slice(name.length + 3));
}

function isWithin(child: string, parent: string): boolean {
  return parent === "/" || child === parent || child.startsWith(`${parent}/`);
}

// ---- the tests ----------------------------------------------------------------------

describe.each(RUNTIMES)("kubelet.service for %s", (runtime) => {
  test("the ExecStart mounts are the mounts table, in order", () => {
    const { execStart } = render(runtime);
    const expected = KUBELET_MOUNTS.map((mount) => ({
      host: mount.host,
      container: mount.container,
      readOnly: mount.readOnly,
      propagation: runtime === "rkt" ? "rshared" : mount.propagation,
      selinuxRelabel: runtime === "rkt" ? false : mount.selinuxRelabel,
    }));
    expect(execStart.mounts).toEqual(expected);
  });

  test.each(ROLES)("the README's kubelet.service invariants hold for a %s", (role) => {
    const { text, execStart, unit, kubeletYaml } = render(runtime, { role, node_labels: ["example.com/rack=r1"], node_taints: ["dedicated=infra:NoExecute"] });
    const etcKubernetes = execStart.mounts.filter((mount) => mount.container === "/etc/kubernetes");
    expect(etcKubernetes).toHaveLength(1);
    expect(etcKubernetes[0]!.readOnly).toBe(true);
    for (const mount of execStart.mounts) {
      if (mount.host === "/etc/resolv.conf" || mount.container === "/etc/resolv.conf") expect(mount.readOnly, "resolv.conf").toBe(true);
      // Neither /var/lib/cni itself nor a parent that would expose it.
      expect(isWithin("/var/lib/cni", mount.host) || isWithin(mount.host, "/var/lib/cni"), mount.host).toBe(false);
      expect(isWithin("/var/lib/cni", mount.container) || isWithin(mount.container, "/var/lib/cni"), mount.container).toBe(false);
    }

    const labels = flagValues(execStart.kubeletFlags, "node-labels");
    expect(labels.filter((label) => label.startsWith("node-role.kubernetes.io/"))).toEqual([]);
    expect(labels).toContain(role === "controller" ? "node.kubernetes.io/controller=true" : "node.kubernetes.io/node");
    expect(labels).not.toContain(role === "controller" ? "node.kubernetes.io/node" : "node.kubernetes.io/controller=true");
    expect(labels).toContain("example.com/rack=r1");

    const taints = kubeletYaml.registerWithTaints as Array<Record<string, string>>;
    const controllerTaint = { key: "node-role.kubernetes.io/controller", effect: "NoSchedule" };
    if (role === "controller") expect(taints).toContainEqual(controllerTaint);
    else expect(taints).not.toContainEqual(controllerTaint);
    expect(taints).toContainEqual({ key: "dedicated", value: "infra", effect: "NoExecute" });
    expect(flagValues(execStart.kubeletFlags, "register-with-taints")).toEqual([]);

    expect(text).not.toContain("kubelet-wrapper");
    expect(execStart.executable).toBe(`/usr/bin/${runtime}`);
    for (const [, value] of unit.sections.get("Service")!) expect(value).not.toContain("wrapper");
  });

  test("the kubelet is told about its kubeconfigs and kubelet.yaml, and cloud_provider adds --cloud-provider", () => {
    const plain = render(runtime).execStart;
    expect(flagValues(plain.kubeletFlags, "bootstrap-kubeconfig")).toEqual(["/etc/kubernetes/kubeconfig"]);
    expect(flagValues(plain.kubeletFlags, "kubeconfig")).toEqual(["/var/lib/kubelet/kubeconfig"]);
    expect(flagValues(plain.kubeletFlags, "config")).toEqual(["/etc/kubernetes/kubelet.yaml"]);
    expect(flagValues(plain.kubeletFlags, "cloud-provider")).toEqual([]);
    expect(plain.image).toBe("quay.io/poseidon/kubelet:v1.36.1");
    const cloud = render(runtime, { cloud_provider: "external", kubelet_image: "registry.example:5000/k/kubelet@sha256:" + "a".repeat(64) }).execStart;
    expect(flagValues(cloud.kubeletFlags, "cloud-provider")).toEqual(["external"]);
    expect(cloud.image).toBe("registry.example:5000/k/kubelet@sha256:" + "a".repeat(64));
  });

  test("every path the kubelet is pointed at is inside one of its mounts, writable where it writes", () => {
    const { execStart, kubeletYaml } = render(runtime);
    const authentication = kubeletYaml.authentication as { x509: { clientCAFile: string } };
    const readPaths = [
      ...flagValues(execStart.kubeletFlags, "bootstrap-kubeconfig"),
      ...flagValues(execStart.kubeletFlags, "config"),
      authentication.x509.clientCAFile,
      kubeletYaml.staticPodPath as string,
      kubeletYaml.resolvConf as string,
      (kubeletYaml.containerRuntimeEndpoint as string).replace("unix://", ""),
    ];
    const writtenPaths = [...flagValues(execStart.kubeletFlags, "kubeconfig"), kubeletYaml.volumePluginDir as string, "/var/log/pods"];
    for (const file of [...readPaths, ...writtenPaths]) {
      const mount = execStart.mounts.filter((candidate) => isWithin(file, candidate.container)).at(-1);
      expect(mount, `${file} is not visible to the kubelet`).toBeDefined();
      if (writtenPaths.includes(file)) expect(mount!.readOnly, `${file} must be writable`).toBe(false);
    }
  });

  test("directories the container cannot create are created on the host before it starts", () => {
    const { unit, kubeletYaml } = render(runtime);
    const created = values(unit, "Service", "ExecStartPre")
      .map((value) => splitCommand(value).words)
      .filter((words) => words[0] === "/bin/mkdir")
      .flatMap((words) => words.slice(2));
    // Inside the read-only /etc/kubernetes, and the bind sources podman and rkt refuse to miss.
    expect(created).toContain(kubeletYaml.staticPodPath as string);
    expect(created).toContain(kubeletYaml.volumePluginDir as string);
    for (const mount of KUBELET_MOUNTS.filter((candidate) => candidate.createOnHost)) expect(created).toContain(mount.host);
  });

  test("the client CA kubelet.yaml names is extracted from the bootstrap kubeconfig, failing loudly", () => {
    const { unit, kubeletYaml } = render(runtime);
    const scripts = values(unit, "Service", "ExecStartPre")
      .map((value) => splitCommand(value).words)
      .filter((words) => words[0] === "/usr/bin/bash");
    expect(scripts).toHaveLength(1);
    const script = scripts[0]![2]!;
    expect(script).toContain("set -o pipefail");
    expect(script).toContain("/etc/kubernetes/kubeconfig");
    expect(script).toContain("awk '{print $2}'");
    expect(script.endsWith(`> ${(kubeletYaml.authentication as { x509: { clientCAFile: string } }).x509.clientCAFile}`)).toBe(true);
  });
});

describe("values reach the unit intact", () => {
  test("systemd words round-trip, including $, %, quotes and spaces", async () => {
    const { systemdWord } = await import("../agent/units/systemd.ts");
    for (const word of ["plain", "a b", "$HOME", "100%", 'say "hi"', "back\\slash", "", "semi;colon", "it's"]) {
      expect(splitCommand(systemdWord(word)).words).toEqual([word]);
    }
  });

  test("rkt volume names are unique ACNames", () => {
    const { unit } = render("rkt");
    const words = splitCommand(values(unit, "Service", "ExecStart")[0]!).words;
    const names = words.flatMap((word, index) => (words[index - 1] === "--volume" ? [word.split(",")[0]!] : []));
    expect(names).toHaveLength(KUBELET_MOUNTS.length);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  });

  test("the docker unit requires docker.service and clears a leftover container first", () => {
    const { unit } = render("docker");
    expect(values(unit, "Unit", "Requires")).toEqual(["docker.service"]);
    expect(values(unit, "Unit", "After")).toEqual(["docker.service"]);
    const pre = values(unit, "Service", "ExecStartPre").map(splitCommand);
    expect(pre).toContainEqual({ ignoreFailure: true, words: ["/usr/bin/docker", "rm", "--force", "kubelet"] });
    expect(splitCommand(values(unit, "Service", "ExecStop")[0]!)).toEqual({ ignoreFailure: true, words: ["/usr/bin/docker", "stop", "kubelet"] });
  });
});

// ---- systemd-analyze verify ------------------------------------------------------------

const verifyRoot = (): string => analyzeRoot(["/usr/bin/podman", "/usr/bin/docker", "/usr/bin/rkt", "/usr/bin/bash", "/bin/mkdir"]);
const verify = (root: string, unitText: string): ReturnType<typeof analyzeUnits> => analyzeUnits(root, { "kubelet.service": unitText });

describe("systemd-analyze verify", () => {
  test.each(RUNTIMES.flatMap((runtime) => ROLES.map((role) => [runtime, role] as const)))("accepts the %s unit of a %s without a warning", async (runtime, role) => {
    const root = verifyRoot();
    const { text } = render(runtime, { role, cloud_provider: "external", node_labels: ["example.com/a=b"] });
    expect(await verify(root, text)).toEqual({ exitCode: 0, stderr: "" });
    fs.rmSync(root, { recursive: true });
  });

  test("the harness reports what it should (a unit with a bad line or a missing binary)", async () => {
    const root = verifyRoot();
    const { text } = render("podman");
    const badLine = await verify(root, text.replace("Restart=always", "Restart=sometimes"));
    expect(badLine.stderr).toContain("sometimes");
    const missing = await verify(root, text.replaceAll("/usr/bin/podman", "/usr/local/bin/podman"));
    expect(missing.exitCode).not.toBe(0);
    fs.rmSync(root, { recursive: true });
  });
});
