// The verify file's text from a certificate with awkward names: repeated attributes read as
// x509-certificate-exporter (Go) reads them, quotes, backslashes and a non-ASCII name
// escaped so the exposition parses back to the same values, and promtool accepts it.

import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { verifyMetricsText } from "../agent/metrics/run-files.ts";
import { checkPki } from "../agent/verify/pki.ts";
import { withStatus } from "../agent/verify/findings.ts";
import { parseExposition, series } from "./helpers/exposition.ts";
import { tempDir } from "./helpers/tree.ts";

const promtoolMissing = spawnSync("promtool", ["--version"]).error === undefined ? undefined : "promtool is not installed (Debian package prometheus)";

describe("the verify file's text", () => {
  test("repeated attributes (first O, last CN), quotes, a backslash and UTF-8 survive the round trip", () => {
    const work = tempDir("typhoon-names-");
    const subject = '/C=FR/O=first/O=second/OU=ops\\, team/CN=a "quoted" \\\\ name/CN=ünïcode last';
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(work, "key"), "-out", path.join(work, "crt"), "-days", "10", "-utf8", "-subj", subject, "-set_serial", "0x0123456789abcdef"], { stdio: "ignore" });
    const pem = fs.readFileSync(path.join(work, "crt"));
    const checkedAt = new Date();
    const pki = checkPki({ read: (file) => (file === "/etc/kubernetes/pki/ca.crt" ? pem : undefined), now: checkedAt, warnDays: 90 });
    const text = verifyMetricsText({ checkedAt, durationSeconds: 0.5, exitCode: 0, result: { command: "verify", root: "/", checkedAt: checkedAt.toISOString(), warnDays: 90, exitCode: 0, files: 1, certificates: withStatus(pki.certificates, pki.findings, checkedAt), findings: pki.findings } });
    const [notAfter] = series(parseExposition(text), "x509_cert_not_after");
    expect(notAfter!.labels).toMatchObject({
      filename: "ca.crt",
      filepath: "/etc/kubernetes/pki/ca.crt",
      serial_number: BigInt("0x0123456789abcdef").toString(10),
      subject_C: "FR",
      subject_O: "first",
      subject_OU: "ops, team",
      subject_CN: "ünïcode last",
      issuer_CN: "ünïcode last",
    });
    expect(notAfter!.value).toBe(Math.floor(Date.parse(pki.certificates[0]!.notAfter) / 1000));
    expect(series(parseExposition(text), "x509_cert_expired")[0]!.value).toBe(0);
    if (promtoolMissing !== undefined) return;
    const lint = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(lint.stdout + lint.stderr).toBe("");
    expect(lint.status).toBe(0);
  });

  test("label values with quotes, backslashes and newlines are escaped as the format requires", () => {
    const checkedAt = new Date("2026-01-01T00:00:00Z");
    const row = {
      name: "ca", path: '/etc/kubernetes/pki/we"ird\\name\n.crt', subject: "", issuer: "", serialNumber: "0A", sans: [], ca: undefined,
      names: { subject: { CN: 'say "hi"\\' }, issuer: {} }, notBefore: "2025-01-01T00:00:00.000Z", notAfter: "2025-12-31T00:00:00.000Z", daysLeft: -1, status: "expired" as const,
    };
    const text = verifyMetricsText({ checkedAt, durationSeconds: 1, exitCode: 1, result: { command: "verify", root: "/", checkedAt: checkedAt.toISOString(), warnDays: 90, exitCode: 1, files: 1, certificates: [row], findings: [] } });
    expect(text).toContain('filepath="/etc/kubernetes/pki/we\\"ird\\\\name\\n.crt"');
    const [expired] = series(parseExposition(text), "x509_cert_expired");
    expect(expired!.labels.filepath).toBe(row.path);
    expect(expired!.labels.subject_CN).toBe('say "hi"\\');
    expect(expired!.labels.serial_number).toBe("10");
    expect(expired!.value).toBe(1);
  });
});
