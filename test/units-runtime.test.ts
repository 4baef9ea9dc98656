// `runtime: auto` reads os-release below the root. The fixtures are the os-release files
// the three Typhoon operating systems ship (abridged), and the cases auto must refuse.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import type { Runtime } from "../agent/config/types.ts";
import { ConfigError } from "../agent/errors.ts";
import { resolveRuntime } from "../agent/units/runtime.ts";
import { tempDir } from "./helpers/tree.ts";

const FEDORA_COREOS = `NAME="Fedora Linux"
VERSION="41.20250105.3.0 (CoreOS)"
ID=fedora
VERSION_ID=41
VARIANT="CoreOS"
VARIANT_ID=coreos
PRETTY_NAME="Fedora CoreOS 41.20250105.3.0"
`;
const FLATCAR = `NAME="Flatcar Container Linux by Kinvolk"
ID=flatcar
ID_LIKE=coreos
VERSION=4081.2.1
PRETTY_NAME="Flatcar Container Linux by Kinvolk 4081.2.1 (Oklo)"
`;
const CONTAINER_LINUX = `NAME="Container Linux by CoreOS"
ID=coreos
VERSION=2247.7.0
PRETTY_NAME="Container Linux by CoreOS 2247.7.0 (Rhyolite)"
`;

function rootWith(files: Record<string, string>, links: Record<string, string> = {}): string {
  const root = tempDir();
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.join(root, path.dirname(name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
  for (const [name, target] of Object.entries(links)) {
    fs.mkdirSync(path.join(root, path.dirname(name)), { recursive: true });
    fs.symlinkSync(target, path.join(root, name));
  }
  return root;
}

describe("runtime auto", () => {
  test.each<[string, string, Runtime]>([
    ["Fedora CoreOS", FEDORA_COREOS, "podman"],
    ["Flatcar (ID_LIKE=coreos is not Container Linux)", FLATCAR, "docker"],
    ["Container Linux", CONTAINER_LINUX, "rkt"],
    ["quoted values", `ID="fedora"\nVARIANT_ID='coreos'\n`, "podman"],
  ])("%s", (_title, osRelease, runtime) => {
    const root = rootWith({ "etc/os-release": osRelease });
    const resolved = resolveRuntime("auto", root);
    expect(resolved.runtime).toBe(runtime);
    expect(resolved.reason).toContain("/etc/os-release");
    fs.rmSync(root, { recursive: true });
  });

  test("follows the relative /etc/os-release link the OSes ship, inside the root", () => {
    const root = rootWith({ "usr/lib/os-release": FLATCAR }, { "etc/os-release": "../usr/lib/os-release" });
    expect(resolveRuntime("auto", root).runtime).toBe("docker");
    fs.rmSync(root, { recursive: true });
  });

  test("falls back to /usr/lib/os-release when /etc/os-release is missing (os-release(5))", () => {
    const root = rootWith({ "usr/lib/os-release": FEDORA_COREOS });
    expect(resolveRuntime("auto", root)).toEqual({ runtime: "podman", reason: "Fedora CoreOS (/usr/lib/os-release)" });
    fs.rmSync(root, { recursive: true });
  });

  test.each([
    ["plain Fedora (no CoreOS variant)", { "etc/os-release": "ID=fedora\nVARIANT_ID=workstation\n" }, "ID=fedora VARIANT_ID=workstation"],
    ["Debian", { "etc/os-release": "ID=debian\nVERSION_ID=12\n" }, "ID=debian"],
    ["no os-release at all", {}, "neither exists"],
  ])("refuses to guess on %s: exit 78, telling the operator to set runtime", (_title, files, detail) => {
    const root = rootWith(files);
    let error: unknown;
    try {
      resolveRuntime("auto", root);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.exitCode).toBe(78);
    expect(configError.key).toBe("runtime");
    expect(configError.message).toContain(detail);
    expect(configError.hint).toContain("podman, docker or rkt");
    fs.rmSync(root, { recursive: true });
  });

  test("an explicit runtime is taken as given, without reading os-release", () => {
    const root = rootWith({ "etc/os-release": FEDORA_COREOS });
    expect(resolveRuntime("rkt", root)).toEqual({ runtime: "rkt", reason: "set in the configuration" });
    expect(resolveRuntime("docker", path.join(root, "does-not-exist")).runtime).toBe("docker");
    fs.rmSync(root, { recursive: true });
  });
});
