// `typhoon-agent verify`: the node's health check, reading only what is installed. What
// should be there comes from the install record the last apply wrote (read by
// plan/install-record.ts, the one reader; verify adds its stricter needs); how it should be
// owned from the placement policy; which certificates to check from certificates.ts.
// Every finding also goes to the journal, so a daily timer warns months before an outage.

import * as fs from "node:fs";

import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
import { ROOT } from "../fsio/ownership.ts";
import { withReadOnlyFile } from "../fsio/read-only.ts";
import { Accounts } from "../hostfs/accounts.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { defaultConfig } from "../config/keys.ts";
import { ETCD_TLS_DIRECTORY, INSTALL_RECORD } from "../paths.ts";
import { readInstallRecord, type InstallRecord } from "../plan/install-record.ts";
import type { EventLog } from "../report/events.ts";
import { logFinding, logVerifyDone } from "../report/verify-journal.ts";
import { configFindings, expectedConfig, expectedNodeFiles, type CurrentConfig } from "./expected.ts";
import { checkFiles } from "./files.ts";
import { withStatus, type VerifyResult } from "./findings.ts";
import { checkPki } from "./pki.ts";
import { DAMAGED_RECORD_HINT, repairHint } from "./repair-hint.ts";

interface VerifyRequest {
  host: HostRoot;
  /**
   * The agent configuration now, or why it did not load: then one error finding, and every
   * other check still runs, so a broken agent.yaml never hides an expiring certificate.
   */
  current: CurrentConfig;
  warnDays: number;
  now: Date;
}

export function runVerify(request: VerifyRequest, events: EventLog): VerifyResult {
  const { host, current } = request;
  const record = recordToVerify(host);
  const installed = record.files;
  const accounts = new Accounts(host);
  const etcdFiles = installed.some((file) => file.startsWith(`${ETCD_TLS_DIRECTORY}/`));
  const etcdUser = (expectedConfig(record, current) ?? defaultConfig()).etcd_user;
  const identities = { etcd: etcdFiles ? accounts.user(etcdUser) : ROOT };
  const contents = new Map<string, Buffer | undefined>();
  const read = (hostPath: string): Buffer | undefined => {
    if (!contents.has(hostPath)) contents.set(hostPath, readInstalled(host, hostPath));
    return contents.get(hostPath);
  };
  const recorded = new Set(installed);
  const rendered = expectedNodeFiles(record, current, host.root);
  const fileFindings = checkFiles({ host, accounts, installed, rendered, identities, read });
  // Only what the last apply installed is checked: a worker has no PKI at all.
  const pki = checkPki({ read: (hostPath) => (recorded.has(hostPath) ? read(hostPath) : undefined), now: request.now, warnDays: request.warnDays });
  const findings = [...configFindings(record, current), ...fileFindings, ...pki.findings];
  for (const finding of findings) logFinding(events, finding);
  const exitCode = findings.some((finding) => finding.severity === "error") ? ExitCode.failed : ExitCode.ok;
  const result: VerifyResult = {
    command: "verify",
    root: host.root,
    checkedAt: request.now.toISOString(),
    warnDays: request.warnDays,
    exitCode,
    files: installed.length,
    certificates: withStatus(pki.certificates, findings, request.now),
    findings,
    ...(findings.length === 0 ? {} : { hint: repairHint(record, current, host.root) }),
  };
  logVerifyDone(events, result);
  return result;
}

/** The record, or the error verify stops with (a damaged record never quoted): exit 66 when there is none, 1 when it is damaged. */
function recordToVerify(host: HostRoot): InstallRecord {
  const installed = readInstallRecord(host);
  if (installed === undefined) {
    throw new AgentError(ExitCode.noInput, `nothing to verify: ${INSTALL_RECORD} is missing under ${host.root}`, "verify checks what typhoon-agent apply installed; run apply first");
  }
  if ("damaged" in installed) throw new AgentError(ExitCode.failed, installed.damaged, DAMAGED_RECORD_HINT, INSTALL_RECORD);
  return installed.record;
}

/**
 * An installed file's content, read without following a link; undefined when there is no
 * regular file to read (checkFiles reports what is there instead). Any other failure, such
 * as EACCES for a user who is not root, stops verify rather than skipping the file.
 */
function readInstalled(host: HostRoot, hostPath: string): Buffer | undefined {
  let real: string;
  try {
    real = host.file(hostPath);
    if (!fs.lstatSync(real).isFile()) return undefined;
  } catch (error) {
    if (error instanceof AgentError || (error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw fromSystemError(error, "inspect", hostPath);
  }
  try {
    return withReadOnlyFile(real, (fd) => fs.readFileSync(fd));
  } catch (error) {
    const failure = fromSystemError(error, "read", hostPath);
    throw new AgentError(failure.exitCode, failure.message, "verify reads private keys: run it as root");
  }
}
