// `typhoon-agent verify`: the node's health check, reading only what is installed. What
// should be there comes from the install record the last apply wrote; how it should be
// owned from the placement policy; which certificates to check from certificates.ts.
// Every finding also goes to the journal, so a daily timer warns months before an outage.

import * as fs from "node:fs";

import { AgentError, ExitCode, fromSystemError } from "../errors.ts";
import { ROOT } from "../fsio/ownership.ts";
import { withReadOnlyFile } from "../fsio/read-only.ts";
import { Accounts } from "../hostfs/accounts.ts";
import type { HostRoot } from "../hostfs/host-root.ts";
import { ETCD_TLS_DIRECTORY, INSTALL_RECORD } from "../paths.ts";
import type { EventLog } from "../report/events.ts";
import { logFinding, logVerifyDone } from "../report/verify-journal.ts";
import { checkFiles, type ExpectedNodeFile } from "./files.ts";
import { withStatus, type Finding, type VerifyResult } from "./findings.ts";
import { checkPki } from "./pki.ts";

export interface VerifyRequest {
  host: HostRoot;
  etcdUser: string;
  /** kubelet.service and kubelet.yaml as apply would render them now. */
  rendered: readonly ExpectedNodeFile[];
  warnDays: number;
  now: Date;
  /**
   * Why the agent configuration did not load, if it did not: one error finding, and the
   * rendered files' content goes unchecked; every other check still runs, so a broken
   * agent.yaml never hides an expiring certificate.
   */
  configProblem?: { path: string; message: string };
}


export function runVerify(request: VerifyRequest, events: EventLog): VerifyResult {
  const { host } = request;
  const installed = readInstallRecord(host);
  const accounts = new Accounts(host);
  const etcdFiles = installed.some((file) => file.startsWith(`${ETCD_TLS_DIRECTORY}/`));
  const identities = { etcd: etcdFiles ? accounts.user(request.etcdUser) : ROOT };
  const contents = new Map<string, Buffer | undefined>();
  const read = (hostPath: string): Buffer | undefined => {
    if (!contents.has(hostPath)) contents.set(hostPath, readInstalled(host, hostPath));
    return contents.get(hostPath);
  };
  const recorded = new Set(installed);
  const fileFindings = checkFiles({ host, accounts, installed, rendered: request.rendered, identities, read });
  // Only what the last apply installed is checked: a worker has no PKI at all.
  const pki = checkPki({ read: (hostPath) => (recorded.has(hostPath) ? read(hostPath) : undefined), now: request.now, warnDays: request.warnDays });
  const configFindings: Finding[] =
    request.configProblem === undefined ? [] : [{ severity: "error", check: "config", path: request.configProblem.path, message: request.configProblem.message }];
  const findings = [...configFindings, ...fileFindings, ...pki.findings];
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
  };
  logVerifyDone(events, result);
  return result;
}

function readInstallRecord(host: HostRoot): string[] {
  const nothingInstalled = new AgentError(
    ExitCode.noInput,
    `nothing to verify: ${INSTALL_RECORD} is missing under ${host.root}`,
    "verify checks what typhoon-agent apply installed; run apply first",
  );
  const content = readInstalled(host, INSTALL_RECORD);
  if (content === undefined) throw nothingInstalled;
  let record: unknown;
  try {
    record = JSON.parse(content.toString("utf8"));
  } catch (error) {
    throw new AgentError(ExitCode.failed, `${INSTALL_RECORD} is not valid JSON: ${(error as Error).message}`, "run typhoon-agent apply to rewrite it");
  }
  const files = (record as { files?: unknown }).files;
  if (!Array.isArray(files) || !files.every((file): file is string => typeof file === "string" && file.startsWith("/"))) {
    throw new AgentError(ExitCode.failed, `${INSTALL_RECORD} has no list of absolute paths under "files"`, "run typhoon-agent apply to rewrite it");
  }
  return files;
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
