// What an operator finds in the journal after the compiled agent ran against a real
// systemd-journald: one entry per path and a summary, the fixed MESSAGE_IDs, priorities,
// TYPHOON_* fields, and not one byte of any secret.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { describe, expect, test } from "vitest";
import { EVENTS } from "../agent/report/events.ts";
import { AGENT } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { journaldUnavailable, withJournald, type JournalEntry } from "./helpers/journald.ts";

const unavailable = process.getuid?.() !== 0 ? "apply needs root" : journaldUnavailable();
if (unavailable !== undefined) console.log(`journal-apply tests skipped: ${unavailable}`);
const journalTest = unavailable === undefined ? test : test.skip;

const ours = (entries: readonly JournalEntry[]): JournalEntry[] => entries.filter((entry) => entry.SYSLOG_IDENTIFIER === "typhoon-agent");
const withId = (entries: readonly JournalEntry[], event: keyof typeof EVENTS): JournalEntry[] => entries.filter((entry) => entry.MESSAGE_ID === EVENTS[event].messageId);

describe("the journal after an apply", () => {
  journalTest("one entry per path, a summary, fixed MESSAGE_IDs and priorities, no secret bytes", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    const assets = await writeSampleBundle(bundle);
    const sha256 = createHash("sha256").update(fs.readFileSync(bundle)).digest("hex");
    const run = await withJournald([
      [AGENT, "apply", bundle, "--root", root, "--no-start", "--keep-bundle"],
      [AGENT, "apply", bundle, "--root", root, "--no-start"],
      [AGENT, "apply", `${root}/missing`, "--root", root, "--no-start"],
    ]);
    expect(run.results.map((result) => result.exitCode)).toEqual([0, 0, 66]);
    // With a journal, the events go there, not to stderr.
    expect(run.results[0]!.stderr).not.toContain("<6>");
    const entries = ours(run.entries);

    const installed = withId(entries, "assetInstalled");
    const keyEntry = installed.find((entry) => entry.TYPHOON_PATH === "/etc/kubernetes/pki/apiserver.key")!;
    expect(keyEntry).toMatchObject({ PRIORITY: "6", TYPHOON_ACTION: "create", TYPHOON_MODE: "0400", TYPHOON_OWNER: "nobody:root", TYPHOON_ASSET: "tls/k8s/apiserver.key" });
    const installedAssets = new Set(installed.map((entry) => entry.TYPHOON_ASSET));
    for (const asset of assets.keys()) expect(installedAssets.has(asset), asset).toBe(true);

    expect(withId(entries, "applyStarted").length).toBe(3);
    const done = withId(entries, "applyDone");
    expect(done.length).toBe(2);
    expect(done[0]).toMatchObject({ PRIORITY: "6", TYPHOON_BUNDLE_SHA256: sha256, TYPHOON_EXIT_CODE: "0" });
    expect(Number(done[0]!.TYPHOON_DURATION_MS)).toBeGreaterThan(0);
    expect(withId(entries, "assetUnchanged").length).toBeGreaterThanOrEqual(assets.size);
    const failed = withId(entries, "applyFailed");
    expect(failed.length).toBe(1);
    expect(failed[0]).toMatchObject({ PRIORITY: "3", TYPHOON_EXIT_CODE: "66" });
    expect(failed[0]!.TYPHOON_PHASE).toBe("inputs");

    // Not one private key, client key or token reaches the journal, in any field.
    const journal = run.exported.toString("latin1");
    expect([...assets.values()].flatMap(secretLines).length, "the secret lines searched for").toBeGreaterThan(150);
    for (const [asset, content] of assets) {
      for (const secret of secretLines(content)) expect(journal.includes(secret), `${asset}: ${secret.slice(0, 12)}…`).toBe(false);
    }
  }, 60_000);

  journalTest("a rolled-back apply and a rollback are reported at their priorities", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    const run = await withJournald([
      [AGENT, "apply", bundle, "--root", root, "--no-start", "--keep-bundle"],
      [AGENT, "rollback", "--root", root],
    ]);
    expect(run.results.map((result) => result.exitCode)).toEqual([0, 0]);
    const rolledBack = withId(ours(run.entries), "rolledBack");
    expect(rolledBack.length).toBe(1);
    expect(rolledBack[0]!.PRIORITY).toBe(String(EVENTS.rolledBack.priority));
    expect(rolledBack[0]!.MESSAGE).toMatch(/rollback restored \d{8}T\d{9}Z\.tar/);
  }, 60_000);
});

/** Distinctive lines of secret material: base64 bodies of private keys, kubeconfig client keys, tokens. */
function secretLines(content: string): string[] {
  const lines: string[] = [];
  for (const block of content.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----\n([\s\S]*?)-----END/g)) {
    lines.push(...block[1]!.split("\n").filter((line) => line.length >= 40));
  }
  for (const field of content.matchAll(/(?:client-key-data|token-secret|token):\s*"?([^\s"]{12,})/g)) lines.push(field[1]!.slice(0, 48));
  return lines;
}
