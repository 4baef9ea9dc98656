// Every certificate's status in verify's table and JSON says every check that failed on it,
// and a check that cannot run (its CA or key is a symlink, or no regular file apply
// installed) is a finding, never silently skipped. The cases are generated over the
// certificate list: for each certificate and kubeconfig client, its chain broken, its key
// swapped or a symlink, its CA (or itself) made a symlink, its file's mode opened up.

import { createPublicKey } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { dump, load } from "js-yaml";
import { beforeAll, describe, expect, test } from "vitest";
import { CERTIFICATE_LIST } from "../agent/verify/certificates.ts";
import type { VerifyResult } from "../agent/verify/findings.ts";
import { issue, newKeyPair, type KeyPair } from "../scripts/pki.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { copyOfTree, installedController } from "./helpers/host.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };

let installed: string;

beforeAll(async () => {
  if (isRoot) installed = await installedController();
}, 30_000);

function node(): string {
  return copyOfTree(installed, "typhoon-verify-status-");
}

async function verify(root: string): Promise<{ exitCode: number; report: VerifyResult; table: string }> {
  const json = await runAgent(["verify", "--root", root, "--json"], QUIET);
  const table = await runAgent(["verify", "--root", root], QUIET);
  return { exitCode: json.exitCode ?? -1, report: JSON.parse(json.stdout as string) as VerifyResult, table: table.stdout as string };
}

const keyPairOf = (pem: string): KeyPair => ({ key: pem, publicKey: createPublicKey(pem).export({ type: "spki", format: "pem" }).toString() });
const foreignCa = async (): Promise<Awaited<ReturnType<typeof issue>>> => issue({ subject: "/CN=another-ca", usage: "ca" }, await newKeyPair());

/** Replaces a file by a symlink to a copy of itself beside it (same name ending, so a key stays a key): the same bytes, reached through a link. */
function symlinkInPlace(file: string): void {
  const real = path.join(path.dirname(file), `real-${path.basename(file)}`);
  fs.copyFileSync(file, real);
  fs.rmSync(file);
  fs.symlinkSync(path.basename(real), file);
}

interface Case {
  title: string;
  /** The certificate row and the host path the finding names. */
  row: string;
  path: string;
  /** The check the error finding about it carries. */
  check: string;
  plant(root: string): Promise<void> | void;
}

function certificateCases(): Case[] {
  const cases: Case[] = [];
  for (const certificate of CERTIFICATE_LIST.certificates) {
    const { name, path: file, keyPath, ca } = certificate;
    if (ca !== undefined && keyPath !== undefined) {
      cases.push({ title: `${name}: signed by another CA`, row: name, path: file, check: "chain", plant: async (root) => {
        const issued = await issue({ subject: `/CN=${name}`, usage: "server-client" }, keyPairOf(fs.readFileSync(`${root}${keyPath}`, "utf8")), await foreignCa());
        fs.writeFileSync(`${root}${file}`, issued.cert);
      } });
    }
    if (keyPath !== undefined) {
      cases.push({ title: `${name}: its key swapped`, row: name, path: file, check: "key", plant: async (root) => fs.writeFileSync(`${root}${keyPath}`, (await newKeyPair()).key) });
      cases.push({ title: `${name}: its key a symlink`, row: name, path: file, check: "key", plant: (root) => symlinkInPlace(`${root}${keyPath}`) });
    }
    if (ca !== undefined) {
      cases.push({ title: `${name}: its CA ${ca.name} a symlink`, row: name, path: file, check: "chain", plant: (root) => symlinkInPlace(`${root}${ca.path}`) });
    }
    cases.push({ title: `${name}: its mode opened up`, row: name, path: file, check: "mode", plant: (root) => fs.chmodSync(`${root}${file}`, 0o666) });
    cases.push({ title: `${name}: itself a symlink`, row: name, path: file, check: "symlink", plant: (root) => symlinkInPlace(`${root}${file}`) });
  }
  return cases;
}

type Kubeconfig = { users: Array<{ user: Record<string, string> }> };

function kubeconfigCases(): Case[] {
  const edit = (file: string, change: (user: Record<string, string>) => Promise<void>) => async (root: string) => {
    const kubeconfig = load(fs.readFileSync(`${root}${file}`, "utf8")) as Kubeconfig;
    await change(kubeconfig.users[0]!.user);
    fs.writeFileSync(`${root}${file}`, dump(kubeconfig));
  };
  // The 2019 bundle's single kubeconfig is not in the sample bundle.
  return CERTIFICATE_LIST.kubeconfigs.filter((kubeconfig) => kubeconfig.name !== "kubeconfig").flatMap(({ name, path: file, ca }): Case[] => [
    { title: `${name} client: signed by another CA`, row: `${name} client`, path: file, check: "chain", plant: edit(file, async (user) => {
      const key = Buffer.from(user["client-key-data"]!, "base64").toString("utf8");
      user["client-certificate-data"] = Buffer.from((await issue({ subject: "/CN=someone", usage: "client" }, keyPairOf(key), await foreignCa())).cert).toString("base64");
    }) },
    { title: `${name} client: its key swapped`, row: `${name} client`, path: file, check: "key", plant: edit(file, async (user) => {
      user["client-key-data"] = Buffer.from((await newKeyPair()).key).toString("base64");
    }) },
    { title: `${name}: its mode opened up`, row: `${name} client`, path: file, check: "mode", plant: (root) => fs.chmodSync(`${root}${file}`, 0o666) },
    { title: `${name} client: its CA ${ca.name} a symlink`, row: `${name} client`, path: file, check: "chain", plant: (root) => symlinkInPlace(`${root}${ca.path}`) },
  ]);
}

describe("a certificate's status says every check that failed on it", () => {
  for (const planted of [...certificateCases(), ...kubeconfigCases()]) {
    rootTest(`${planted.title}: an error finding naming it, and its status is not ok`, async () => {
      const root = node();
      await planted.plant(root);
      const { exitCode, report, table } = await verify(root);
      const about = report.findings.filter((finding) => finding.path === planted.path && finding.severity === "error").map((finding): string => finding.check);
      expect(about, JSON.stringify(report.findings, null, 1)).toContain(planted.check);
      expect(exitCode).toBe(1);
      const row = report.certificates.find((candidate) => candidate.name === planted.row);
      if (planted.check === "symlink") {
        // A certificate that is not read has no dates to show: no row, never an "ok" one.
        expect(row).toBeUndefined();
        return;
      }
      expect(row?.status).toContain(planted.check);
      const line = table.split("\n").find((candidate) => candidate.startsWith(`${planted.row} `));
      expect(line).toMatch(new RegExp(`\\s${row!.status.replace(/[,]/g, "\\,")}\\s`));
      expect(line).not.toMatch(/\sok\s/);
    }, 30_000);
  }

  rootTest("a clean tree: every status ok", async () => {
    const { report } = await verify(node());
    expect(report.certificates.map((row) => row.status)).toEqual(report.certificates.map(() => "ok"));
  });
});
