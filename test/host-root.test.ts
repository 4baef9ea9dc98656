// HostRoot: every path resolved inside --root, links in system directories followed inside
// it, links in managed directories refused.

import * as fs from "node:fs";
import * as path from "node:path";
import { expect, test } from "vitest";
import { AgentError } from "../agent/errors.ts";
import { HostRoot } from "../agent/hostfs/host-root.ts";
import { tempDir } from "./helpers/tree.ts";

function tree(): string {
  const root = tempDir("typhoon-hostroot-");
  fs.mkdirSync(path.join(root, "usr/lib"), { recursive: true });
  fs.mkdirSync(path.join(root, "var/opt"), { recursive: true });
  fs.mkdirSync(path.join(root, "etc"));
  return root;
}

test("a system link is followed inside the root, whatever its target says", () => {
  const root = tree();
  fs.symlinkSync("var/opt", path.join(root, "opt"));
  const host = new HostRoot(root);
  expect(host.directory("/opt/bootstrap/assets", 2)).toBe(path.join(root, "var/opt/bootstrap/assets"));
  fs.rmSync(path.join(root, "opt"));
  fs.symlinkSync("/../../../var/opt", path.join(root, "opt"));
  expect(new HostRoot(root).directory("/opt/bootstrap", 2)).toBe(path.join(root, "var/opt/bootstrap"));
});

test("a link at or below a managed directory is refused with exit 73", () => {
  const root = tree();
  fs.mkdirSync(path.join(root, "etc/kubernetes"));
  fs.symlinkSync("/tmp", path.join(root, "etc/kubernetes/pki"));
  const attempt = (): string => new HostRoot(root).directory("/etc/kubernetes/pki", 2);
  expect(attempt).toThrow(AgentError);
  expect(attempt).toThrow(/symlink/);
  try {
    attempt();
  } catch (error) {
    expect((error as AgentError).exitCode).toBe(73);
  }
});

test("readable() follows a final link inside the root: /etc/os-release -> ../usr/lib/os-release", () => {
  const root = tree();
  fs.writeFileSync(path.join(root, "usr/lib/os-release"), "ID=fedora\n");
  fs.symlinkSync("../usr/lib/os-release", path.join(root, "etc/os-release"));
  expect(fs.readFileSync(new HostRoot(root).readable("/etc/os-release"), "utf8")).toBe("ID=fedora\n");
  fs.rmSync(path.join(root, "etc/os-release"));
  fs.symlinkSync("/usr/lib/os-release", path.join(root, "etc/os-release"));
  expect(new HostRoot(root).readable("/etc/os-release")).toBe(path.join(root, "usr/lib/os-release"));
});

test("display() shows host paths an operator knows", () => {
  const root = tree();
  const host = new HostRoot(root);
  expect(host.display(path.join(root, "etc/kubernetes/pki/ca.key"))).toBe("/etc/kubernetes/pki/ca.key");
  expect(new HostRoot("/").display("/etc/x")).toBe("/etc/x");
});
