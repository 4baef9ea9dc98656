// kubelet.service's client CA extraction, run by the real bash as ExecStartPre runs it, in a
// scratch directory standing in for /etc/kubernetes: a kubeconfig without a usable CA fails
// the start and leaves the ca.crt of the last good start exactly as it was.

import { execa } from "execa";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { EXTRACT_CLIENT_CA } from "../agent/units/kubelet-service.ts";
import { tempDir } from "./helpers/tree.ts";

const PREVIOUS_CA = "-----BEGIN CERTIFICATE-----\nprevious\n-----END CERTIFICATE-----\n";
const NEW_CA = "-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n";

function kubeconfig(caLine: string | undefined): string {
  return ["apiVersion: v1", "kind: Config", "clusters:", "- name: local", "  cluster:", "    server: https://example.typhoon.test:6443", ...(caLine === undefined ? [] : [caLine]), ""].join("\n");
}

async function extract(kubeconfigText: string | undefined): Promise<{ exitCode: number | undefined; directory: string }> {
  const directory = tempDir("typhoon-client-ca-");
  fs.writeFileSync(path.join(directory, "ca.crt"), PREVIOUS_CA);
  if (kubeconfigText !== undefined) fs.writeFileSync(path.join(directory, "kubeconfig"), kubeconfigText);
  const script = EXTRACT_CLIENT_CA.replaceAll("/etc/kubernetes/", `${directory}/`);
  expect(script).not.toContain("/etc/kubernetes");
  const result = await execa("bash", ["-c", script], { reject: false });
  return { exitCode: result.exitCode, directory };
}

describe("the client CA extraction (ExecStartPre)", () => {
  test("writes the kubeconfig's CA to ca.crt, mode 0644, and leaves no temporary file", async () => {
    const data = Buffer.from(NEW_CA).toString("base64");
    const { exitCode, directory } = await extract(kubeconfig(`    certificate-authority-data: ${data}`));
    expect(exitCode).toBe(0);
    expect(fs.readFileSync(path.join(directory, "ca.crt"), "utf8")).toBe(NEW_CA);
    expect(fs.statSync(path.join(directory, "ca.crt")).mode & 0o777).toBe(0o644 & ~process.umask());
    expect(fs.readdirSync(directory).sort()).toEqual(["ca.crt", "kubeconfig"]);
  });

  test.each([
    ["has no certificate-authority-data", kubeconfig(undefined)],
    ["has an empty certificate-authority-data", kubeconfig("    certificate-authority-data: ")],
    ["has certificate-authority-data that is not base64", kubeconfig("    certificate-authority-data: !!not-base64!!")],
    ["is missing", undefined],
  ])("a kubeconfig that %s fails the start and keeps the previous ca.crt", async (_what, text) => {
    const { exitCode, directory } = await extract(text);
    expect(exitCode).not.toBe(0);
    expect(fs.readFileSync(path.join(directory, "ca.crt"), "utf8")).toBe(PREVIOUS_CA);
    expect(fs.readdirSync(directory).filter((name) => name.includes("tmp"))).toEqual([]);
  });
});
