// kubelet.service for podman, docker and rkt, golden-free: each rendered unit is parsed
// back the way systemd reads it, its ExecStart taken apart the way the runtime reads it,
// and the mounts and kubelet flags found there are checked against the mounts table and
// against the README's kubelet.service invariants. systemd-analyze verifies every unit.

import * as fs from "node:fs";
import { describe, expect, test } from "vitest";
import type { Role, Runtime } from "../agent/config/types.ts";
import { EXTRACT_CLIENT_CA } from "../agent/units/kubelet-service.ts";
import { mountsFor } from "../agent/units/mounts.ts";
import { flagValues, isWithin, render, RKT_KUBELET_IMAGE, splitCommand, values } from "./helpers/kubelet-unit.ts";
import { analyzeRoot, analyzeUnits } from "./helpers/systemd-analyze.ts";

const RUNTIMES: readonly Runtime[] = ["podman", "docker", "rkt"];
const ROLES: readonly Role[] = ["controller", "worker"];

describe.each(RUNTIMES)("kubelet.service for %s", (runtime) => {
  test("the ExecStart mounts are the mounts table, in order", () => {
    const { execStart } = render(runtime);
    const expected = mountsFor(runtime).map((mount) => ({
      host: mount.host,
      container: mount.container,
      readOnly: mount.readOnly,
      propagation: runtime === "rkt" ? "rshared" : mount.propagation,
      // podman alone relabels (docker: none, as Typhoon's Flatcar unit; rkt cannot)
      selinuxRelabel: runtime === "podman" ? mount.selinuxRelabel : false,
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
    expect(plain.image).toBe(runtime === "rkt" ? RKT_KUBELET_IMAGE : "quay.io/poseidon/kubelet:v1.36.1");
    const pinned = { kubelet_image: "registry.example:5000/k/kubelet@sha256:" + "a".repeat(64), kubelet_version: runtime === "rkt" ? "1.34" : "1.36.1" };
    const cloud = render(runtime, { cloud_provider: "external", ...pinned }).execStart;
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
    for (const mount of mountsFor(runtime).filter((candidate) => candidate.createOnHost)) expect(created).toContain(mount.host);
  });

  test("every bind source exists before the container starts: part of every host, placed by Ignition, or created first", () => {
    const { unit, execStart } = render(runtime);
    const created = values(unit, "Service", "ExecStartPre")
      .map((value) => splitCommand(value).words)
      .filter((words) => words[0] === "/bin/mkdir")
      .flatMap((words) => words.slice(2));
    // What each Typhoon OS has before the kubelet starts (the OS itself, or Ignition's /etc/kubernetes/kubeconfig).
    const present = ["/etc/kubernetes", "/etc/machine-id", "/etc/resolv.conf", "/usr/lib/os-release", "/lib/modules", "/run", "/sys/fs/cgroup", "/var/log"];
    // selinuxfs: Fedora CoreOS (podman) alone always has SELinux on; docker would try to create it inside sysfs.
    const presentOnFedoraCoreOS = ["/sys/fs/selinux"];
    for (const mount of execStart.mounts) {
      const exists = created.includes(mount.host) || present.includes(mount.host) || (runtime === "podman" && presentOnFedoraCoreOS.includes(mount.host));
      expect(exists, `${mount.host} may be missing when ${runtime} starts the kubelet`).toBe(true);
    }
    expect(execStart.mounts.some((mount) => mount.host.startsWith("/sys/fs/selinux") || mount.host === "/etc/selinux")).toBe(runtime === "podman");
  });

  test("the unit starts after containerd, whose socket and image store it uses", () => {
    const { unit } = render(runtime);
    expect(values(unit, "Unit", "After")).toContain("containerd.service");
    expect(values(unit, "Unit", "Wants")).toContain("containerd.service");
  });

  test("the client CA kubelet.yaml names is extracted from the bootstrap kubeconfig into a temporary file, renamed into place", () => {
    const { unit, kubeletYaml } = render(runtime);
    const scripts = values(unit, "Service", "ExecStartPre")
      .map((value) => splitCommand(value).words)
      .filter((words) => words[0] === "/usr/bin/bash");
    expect(scripts).toEqual([["/usr/bin/bash", "-c", EXTRACT_CLIENT_CA]]);
    const clientCA = (kubeletYaml.authentication as { x509: { clientCAFile: string } }).x509.clientCAFile;
    expect(EXTRACT_CLIENT_CA).toContain("/etc/kubernetes/kubeconfig");
    expect(EXTRACT_CLIENT_CA.endsWith(` ${clientCA}`)).toBe(true);
  });
});

describe("values reach the unit intact", () => {
  test("systemd words round-trip, including $, %, quotes and spaces", async () => {
    const { systemdWord } = await import("../agent/units/systemd.ts");
    for (const word of ["plain", "a b", "$HOME", "100%", 'say "hi"', "back\\slash", "", "semi;colon", "it's"]) {
      expect(splitCommand(systemdWord(word)).words).toEqual([word]);
    }
  });

  test("a word systemd expands is one word of ${NAME} and %H only, never a split $NAME, a space or a quote", async () => {
    const { expands, systemdWord } = await import("../agent/units/systemd.ts");
    expect(systemdWord(expands("--provider-id=aws:///${ZONE}/${ID}"))).toBe("--provider-id=aws:///${ZONE}/${ID}");
    expect(systemdWord(expands("--hostname-override=%H"))).toBe("--hostname-override=%H");
    for (const bad of ["$ZONE", "a b", '"x"', "%n", "${lower}", "back\\slash"]) expect(() => expands(bad), bad).toThrow();
  });

  test("rkt volume names are unique ACNames", () => {
    const { unit } = render("rkt");
    const words = splitCommand(values(unit, "Service", "ExecStart")[0]!).words;
    const names = words.flatMap((word, index) => (words[index - 1] === "--volume" ? [word.split(",")[0]!] : []));
    expect(names).toHaveLength(mountsFor("rkt").length);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
  });

  test("the docker unit requires docker.service and clears a leftover container first", () => {
    const { unit } = render("docker");
    expect(values(unit, "Unit", "Requires")).toEqual(["docker.service"]);
    expect(values(unit, "Unit", "After")).toEqual(["docker.service", "containerd.service"]);
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
