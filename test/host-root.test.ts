// HostRoot: every path resolved inside --root, links in system directories followed inside
// it, links in managed directories refused.

import * as fs from "node:fs";
import * as path from "node:path";
import { expect, test } from "vitest";
import { AgentError } from "../agent/errors.ts";
import { HostRoot, type RealPath } from "../agent/hostfs/host-root.ts";
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
  expect<string>(host.directory("/opt/bootstrap/assets")).toBe(path.join(root, "var/opt/bootstrap/assets"));
  fs.rmSync(path.join(root, "opt"));
  fs.symlinkSync("/../../../var/opt", path.join(root, "opt"));
  expect<string>(new HostRoot(root).directory("/opt/bootstrap")).toBe(path.join(root, "var/opt/bootstrap"));
});

test("a link at or below a managed directory is refused with exit 73", () => {
  const root = tree();
  fs.mkdirSync(path.join(root, "etc/kubernetes"));
  fs.symlinkSync("/tmp", path.join(root, "etc/kubernetes/pki"));
  const attempt = (): string => new HostRoot(root).directory("/etc/kubernetes/pki");
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
  expect<string>(new HostRoot(root).readable("/etc/os-release")).toBe(path.join(root, "usr/lib/os-release"));
});

test("display() shows host paths an operator knows", () => {
  const root = tree();
  const host = new HostRoot(root);
  expect<string>(host.display(path.join(root, "etc/kubernetes/pki/ca.key") as RealPath)).toBe("/etc/kubernetes/pki/ca.key");
  expect<string>(new HostRoot("/").display("/etc/x" as RealPath)).toBe("/etc/x");
});

test("which components may be links is the placement table's: system directories above a managed one, never the managed one or below", () => {
  const root = tree();
  fs.mkdirSync(path.join(root, "elsewhere/ssl"), { recursive: true });
  fs.symlinkSync("../elsewhere/ssl", path.join(root, "etc/ssl"));
  const host = new HostRoot(root);
  // /etc/ssl is a system directory above the managed /etc/ssl/etcd: followed, inside the root.
  expect<string>(host.directory("/etc/ssl/etcd/etcd")).toBe(path.join(root, "elsewhere/ssl/etcd/etcd"));
  fs.mkdirSync(path.join(root, "elsewhere/ssl/real-etcd"));
  fs.symlinkSync("real-etcd", path.join(root, "elsewhere/ssl/etcd"));
  for (const managed of ["/etc/ssl/etcd", "/etc/ssl/etcd/etcd", "/etc/ssl/etcd/etcd/server.key"]) {
    const resolve = (): string => (managed.endsWith(".key") ? new HostRoot(root).file(managed) : new HostRoot(root).directory(managed));
    expect(resolve, managed).toThrow(/symlink where the agent manages/);
  }
  // Outside every managed directory each parent may be a link (/etc/systemd/system on some hosts).
  fs.mkdirSync(path.join(root, "usr/lib/systemd/system"), { recursive: true });
  fs.symlinkSync("../usr/lib/systemd", path.join(root, "etc/systemd"));
  expect<string>(new HostRoot(root).file("/etc/systemd/system/kubelet.service")).toBe(path.join(root, "usr/lib/systemd/system/kubelet.service"));
});
