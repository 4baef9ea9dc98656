// What a node's first boot must leave behind, in one list: the tree (modes, owners,
// contents, SELinux labels) and the journal, from what Ignition places, what systemd does
// with it at first boot, and what `typhoon-agent apply` does with the bundle, or without one
// on a worker (docs/design.md: placement, the transaction, the journal). `boots` limits an expectation to the boots that
// can meet it.

import { TEXTFILE_COLLECTOR_DIRECTORY } from "../../agent/paths.ts";
import { EVENTS } from "../../agent/report/events.ts";
import { BUNDLE_PATH, CONFIG_PATH, DISTROS, SYSEXT, TMPFILES_PATH } from "../../packaging/agent-files.ts";
import type { Boot } from "./machine.ts";

export interface BootFacts {
  boot: Boot;
  /** What Ignition fetched: the binary, or (flatcar) the sysext image. */
  binarySha512: string;
  bundleSha256: string;
  /** The kubelet's command line as the rendered kubelet.service passes it (the flatcar boot's container prints it). */
  kubeletArguments?: string;
  /** /etc/typhoon/agent.yaml as Terraform renders it for the test. */
  agentConfig: string;
  /** Unit name (or "unit.d/drop-in") → content, as Ignition was told to write them. */
  units: ReadonlyMap<string, string>;
  /** A line of a private key in the bundle, which no log may hold. */
  secretLine: string;
  /** Where the node's journal catalog is, as a root for journalctl --root: the tree, or (flatcar) the sysext image's. */
  catalogRoot?: string;
}

export interface FileExpectation {
  path: string;
  type: "file" | "directory" | "symlink" | "absent";
  mode?: number;
  uid?: number;
  gid?: number;
  sha512?: string;
  content?: string;
  selinuxLabel?: string;
  /** Text the file must hold somewhere (for files whose whole content varies from run to run). */
  contains?: readonly string[];
  boots?: Boot[];
}

export interface JournalExpectation {
  what: string;
  /** Fields an entry must have, value for value. */
  match: Record<string, string>;
  /** At least one such entry, or none at all. */
  present: boolean;
  boots?: Boot[];
}

const ROOT = { uid: 0, gid: 0 };
const ETCD = { uid: 232, gid: 232 };
const NOBODY_UID = 65534; // the static pods' runAsUser
const CONTAINER_FILE = "system_u:object_r:container_file_t:s0";
const TEXTFILE_DIRECTORY = TEXTFILE_COLLECTOR_DIRECTORY;
const BINARY = DISTROS["fedora-coreos"].binary;
const CATALOG = `${DISTROS["fedora-coreos"].catalogDirectory}/typhoon-agent.catalog`;
/** systemd's "a start job finished successfully" (UNIT_STARTED); a unit skipped by its condition gets one too */
const SYSTEMD_UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf";

function agentEvent(event: keyof typeof EVENTS, fields: Record<string, string> = {}): Record<string, string> {
  return { SYSLOG_IDENTIFIER: "typhoon-agent", MESSAGE_ID: EVENTS[event].messageId, ...fields };
}

export function startJobDone(unit: string): Record<string, string> {
  return { MESSAGE_ID: SYSTEMD_UNIT_STARTED, UNIT: unit, JOB_TYPE: "start", JOB_RESULT: "done" };
}

/** The controller boots; a worker gets no bundle, so none of the PKI. */
const CONTROLLERS: Boot[] = ["nspawn", "qemu", "flatcar", "rejected"];
/** Boots of Fedora CoreOS (Ignition places the binary, the units and the catalog). */
const FEDORA_COREOS: Boot[] = ["nspawn", "qemu", "worker", "rejected"];
/** Boots whose kubelet.service runs the stand-in command instead of a container. */
const STUB_KUBELET: Boot[] = ["nspawn", "worker", "rejected"];

export function fileExpectations(facts: BootFacts): FileExpectation[] {
  const all: FileExpectation[] = [
    // placed by Ignition
    { path: BINARY, type: "file", mode: 0o755, ...ROOT, sha512: facts.binarySha512, boots: FEDORA_COREOS },
    { path: CONFIG_PATH, type: "file", mode: 0o644, ...ROOT, content: facts.agentConfig },
    { path: CATALOG, type: "file", mode: 0o644, ...ROOT, boots: FEDORA_COREOS },
    { path: TMPFILES_PATH, type: "file", mode: 0o644, ...ROOT, contains: [`\nd ${TEXTFILE_DIRECTORY} 0755 root root -\n`] },
    ...[...facts.units].map(([name, content]): FileExpectation => ({ path: `/etc/systemd/system/${name}`, type: "file", content })),
    // enabled by systemd at first boot, from the presets Ignition wrote
    { path: "/etc/systemd/system/multi-user.target.wants/typhoon-agent.service", type: "symlink" },
    { path: "/etc/systemd/system/timers.target.wants/typhoon-agent-verify.timer", type: "symlink" },
    { path: "/etc/systemd/system/paths.target.wants/typhoon-agent.path", type: "symlink", boots: ["nspawn", "qemu", "rejected"] },
    { path: "/etc/systemd/system/typhoon-agent.path", type: "absent", boots: ["worker"] },
    // Flatcar: the sysext image Ignition verified, its units enabled by Ignition's links (merged
    // at boot, so nothing of it is left in the tree once the machine is off)
    { path: SYSEXT.path, type: "file", mode: 0o644, ...ROOT, sha512: facts.binarySha512, boots: ["flatcar"] },
    { path: SYSEXT.binary, type: "absent", boots: ["flatcar"] },
    { path: "/etc/systemd/system/multi-user.target.wants/typhoon-agent.path", type: "symlink", boots: ["flatcar"] },

    // apply: the bundle consumed, the kubelet installed and enabled, the run recorded
    { path: BUNDLE_PATH, type: "absent" },
    { path: "/etc/systemd/system/kubelet.service", type: "file", mode: 0o644, ...ROOT },
    { path: "/etc/systemd/system/multi-user.target.wants/kubelet.service", type: "symlink" },
    { path: "/etc/kubernetes/kubelet.yaml", type: "file", mode: 0o644, ...ROOT },
    { path: "/var/lib/typhoon-agent/result.json", type: "file" },
    { path: "/var/lib/typhoon-agent/installed.json", type: "file", mode: 0o600, ...ROOT },
    { path: "/etc/kubernetes/pki", type: "absent", boots: ["worker"] },
    // the metrics for node-exporter: the directory systemd-tmpfiles made at boot, apply's file and
    // verify's from its first run, each written from its unit's sandbox
    { path: TEXTFILE_DIRECTORY, type: "directory", mode: 0o755, ...ROOT },
    { path: `${TEXTFILE_DIRECTORY}/typhoon_agent_apply.prom`, type: "file", mode: 0o644, ...ROOT, contains: ["\ntyphoon_agent_apply_exit_code 0\n"] },
    { path: `${TEXTFILE_DIRECTORY}/typhoon_agent_verify.prom`, type: "file", mode: 0o644, ...ROOT, contains: ["\ntyphoon_agent_verify_exit_code 0\n"] },
    {
      path: `${TEXTFILE_DIRECTORY}/typhoon_agent_verify.prom`,
      type: "file",
      contains: ['\nx509_cert_not_after{filename="apiserver.crt",filepath="/etc/kubernetes/pki/apiserver.crt",'],
      boots: CONTROLLERS,
    },
    { path: `${TEXTFILE_DIRECTORY}/typhoon_agent_apply.prom`, type: "file", contains: [`\ntyphoon_agent_bundle_info{sha256="${facts.bundleSha256}"} 1\n`], boots: CONTROLLERS },
    // placement and least privilege (docs/design.md, "Placement")
    ...CONTROLLER_TREE.map((expectation) => ({ ...expectation, boots: CONTROLLERS })),
    // labeled for containers like upstream's chcon, where SELinux is on (the QEMU guest)
    { path: "/etc/kubernetes/pki", type: "directory", selinuxLabel: CONTAINER_FILE, boots: ["qemu"] },
    { path: "/etc/kubernetes/pki/ca.key", type: "file", selinuxLabel: CONTAINER_FILE, boots: ["qemu"] },
  ];
  return all.filter((expectation) => expectation.boots?.includes(facts.boot) ?? true);
}

/** Placement and least privilege on a controller (docs/design.md, "Placement"). */
const CONTROLLER_TREE: FileExpectation[] = [
  { path: "/etc/ssl/etcd/etcd", type: "directory", mode: 0o700, ...ETCD },
  { path: "/etc/ssl/etcd/etcd/server.key", type: "file", mode: 0o400, ...ETCD },
  { path: "/etc/ssl/etcd/etcd/peer.crt", type: "file", mode: 0o444, ...ETCD },
  { path: "/etc/kubernetes/pki", type: "directory", mode: 0o755, ...ROOT },
  { path: "/etc/kubernetes/pki/ca.crt", type: "file", mode: 0o644, ...ROOT },
  // referenced by the static pods (kube-apiserver, kube-controller-manager): theirs, read-only
  { path: "/etc/kubernetes/pki/apiserver.key", type: "file", mode: 0o400, uid: NOBODY_UID },
  { path: "/etc/kubernetes/pki/ca.key", type: "file", mode: 0o400, uid: NOBODY_UID },
  // referenced by no static pod: root's alone
  { path: "/etc/kubernetes/pki/admin.conf", type: "file", mode: 0o600, ...ROOT },
  { path: "/etc/kubernetes/manifests", type: "directory", mode: 0o700, ...ROOT },
  { path: "/etc/kubernetes/manifests/kube-apiserver.yaml", type: "file", mode: 0o600, ...ROOT },
  { path: "/opt/bootstrap/assets/manifests", type: "directory", mode: 0o700, ...ROOT },
];

export function journalExpectations(facts: BootFacts): JournalExpectation[] {
  const all: JournalExpectation[] = [
    { what: "typhoon-agent.service finished", match: startJobDone("typhoon-agent.service"), present: true },
    { what: "apply started", match: agentEvent("applyStarted"), present: true },
    { what: "etcd's server key installed", match: agentEvent("assetInstalled", { TYPHOON_PATH: "/etc/ssl/etcd/etcd/server.key" }), present: true, boots: CONTROLLERS },
    { what: "kubelet.yaml installed", match: agentEvent("assetInstalled", { TYPHOON_PATH: "/etc/kubernetes/kubelet.yaml" }), present: true },
    { what: "kubelet started by apply", match: agentEvent("kubeletStarted"), present: true },
    { what: "apply done, for this bundle", match: agentEvent("applyDone", { TYPHOON_BUNDLE_SHA256: facts.bundleSha256 }), present: true, boots: CONTROLLERS },
    { what: "apply done", match: agentEvent("applyDone"), present: true },
    { what: "no failed apply", match: agentEvent("applyFailed"), present: false, boots: ["nspawn", "qemu", "worker", "flatcar"] },
    {
      what: "the rejected bundle refused as a bad bundle (65)",
      match: agentEvent("applyFailed", { TYPHOON_EXIT_CODE: "65" }),
      present: true,
      boots: ["rejected"],
    },
    { what: "no rollback", match: agentEvent("rolledBack"), present: false },

    { what: "kubelet.service started", match: startJobDone("kubelet.service"), present: true },
    { what: "the stand-in kubelet ran", match: { SYSLOG_IDENTIFIER: "echo", MESSAGE: "stand-in kubelet started" }, present: true, boots: STUB_KUBELET },
    { what: "podman started the kubelet container", match: { SYSLOG_IDENTIFIER: "podman", PODMAN_EVENT: "start", PODMAN_NAME: "kubelet" }, present: true, boots: ["qemu"] },
    { what: "systemd-sysext merged the agent's image", match: startJobDone("systemd-sysext.service"), present: true, boots: ["flatcar"] },
    {
      what: "docker ran the stand-in kubelet with the flags kubelet.service passes",
      match: { SYSLOG_IDENTIFIER: "docker", MESSAGE: `stand-in kubelet started: ${facts.kubeletArguments ?? ""}` },
      present: true,
      boots: ["flatcar"],
    },
    { what: "the boot test harness saw the kubelet up", match: startJobDone("boot-test-finish.service"), present: true },
    { what: "the daily verify timer started at boot", match: startJobDone("typhoon-agent-verify.timer"), present: true },
    { what: "typhoon-agent-verify.service passed", match: startJobDone("typhoon-agent-verify.service"), present: true },
    { what: "verify reported from its sandbox, with no error", match: agentEvent("verifyDone", { TYPHOON_EXIT_CODE: "0" }), present: true },
    { what: "verify found no drift", match: agentEvent("checkFailed"), present: false },
    { what: "verify found no expiring certificate", match: agentEvent("certificateExpiring"), present: false },
    // a controller's etcd (boot/etcd.ts) serving with the certificates apply installed: the
    // check (which requires etcd-member.service) wrote and read a key as the kube-apiserver's uid
    { what: "etcd reached as the kube-apiserver's uid", match: startJobDone("boot-test-etcd-check.service"), present: true, boots: CONTROLLERS },
    { what: "apply and verify wrote their metrics", match: agentEvent("metricsNotWritten"), present: false },
  ];
  return all.filter((expectation) => expectation.boots?.includes(facts.boot) ?? true);
}
