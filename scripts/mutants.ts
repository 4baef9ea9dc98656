// The semantic mutants `npm run mutate` (scripts/mutate.ts) plants in the agent, one at a
// time, to measure whether the tests notice a broken promise. Each is an exact search and
// replace that must match exactly once in the current tree: a mutant that no longer applies
// is a failure (test/mutants.test.ts fails in `npm test` when the code drifts from this list),
// never a skip. `tests` are the files that should notice; ["test/"] is the whole suite.

export interface Mutant {
  /** Short and unique: `--only NAME` picks it. */
  name: string;
  /** What the mutant breaks, in the README's words where it has some. */
  breaks: string;
  file: string;
  from: string;
  to: string;
  tests: readonly string[];
}

const CONTRACT = "test/syscall-contract.test.ts";
const FAULTS = "test/faults.test.ts";
const STATIC_PODS = "test/static-pods.test.ts";
const APPLY = "test/apply.test.ts";
const BACKUPS = "test/backups.test.ts";
const VERIFY = "test/verify.test.ts";
const METRICS_FILES = "test/metrics-files.test.ts";

export const MUTANTS: readonly Mutant[] = [
  // Placement modes
  {
    name: "etcd-key-group-readable",
    breaks: "etcd keys are 0400",
    file: "agent/placement/policy.ts",
    from: ": { uid, gid, mode: 0o400, secret: true };",
    to: ": { uid, gid, mode: 0o440, secret: true };",
    tests: [APPLY],
  },
  {
    name: "pki-reader-secret-group-readable",
    breaks: "a secret a non-root container reads is that uid's, 0400",
    file: "agent/placement/policy.ts",
    from: "{ uid: reader.uid, gid: reader.gid, mode: 0o400, secret: true }",
    to: "{ uid: reader.uid, gid: reader.gid, mode: 0o440, secret: true }",
    tests: [APPLY],
  },
  {
    name: "pki-unread-secret-group-readable",
    breaks: "a secret only root reads is root's 0600",
    file: "agent/placement/policy.ts",
    from: "reader === undefined ? { ...ROOT, mode: 0o600, secret: true }",
    to: "reader === undefined ? { ...ROOT, mode: 0o640, secret: true }",
    tests: [APPLY],
  },
  {
    name: "public-material-group-writable",
    breaks: "certificates and public keys are 0644",
    file: "agent/placement/policy.ts",
    from: "if (isPublicMaterial(name)) return { ...ROOT, mode: 0o644, secret: false };",
    to: "if (isPublicMaterial(name)) return { ...ROOT, mode: 0o664, secret: false };",
    tests: [APPLY],
  },
  {
    name: "private-files-world-readable",
    breaks: "static pods and bootstrap manifests are root 0600",
    file: "agent/placement/policy.ts",
    from: 'case "private":\n      return { ...ROOT, mode: 0o600, secret: false };',
    to: 'case "private":\n      return { ...ROOT, mode: 0o644, secret: false };',
    tests: [APPLY],
  },
  {
    name: "etcd-directory-open",
    breaks: "/etc/ssl/etcd/etcd is etcd 0700",
    file: "agent/placement/policy.ts",
    from: "{ path: ETCD_CERTIFICATE_DIRECTORY, owner: \"etcd\", mode: 0o700 },",
    to: "{ path: ETCD_CERTIFICATE_DIRECTORY, owner: \"etcd\", mode: 0o750 },",
    tests: [APPLY],
  },
  {
    name: "pub-key-treated-as-secret",
    breaks: "the service-account public key is 0644",
    file: "agent/placement/policy.ts",
    from: 'name.endsWith(".crt") || name.endsWith(".pub");',
    to: 'name.endsWith(".crt");',
    tests: [APPLY],
  },
  // Ownership derivation
  {
    name: "container-uid-ignored",
    breaks: "a container runs as its own securityContext.runAsUser, else the pod's",
    file: "agent/placement/pod-spec.ts",
    from: "const value = context[field] ?? podContext[field];",
    to: "const value = podContext[field] ?? context[field];",
    tests: [STATIC_PODS],
  },
  {
    name: "init-containers-ignored",
    breaks: "init containers count like containers",
    file: "agent/placement/pod-spec.ts",
    from: "...(Array.isArray(spec.initContainers) ? spec.initContainers : [])",
    to: "...([] as unknown[])",
    tests: [STATIC_PODS],
  },
  {
    name: "run-as-group-ignored",
    breaks: "runAsGroup likewise",
    file: "agent/placement/pod-spec.ts",
    from: 'gid: identity("runAsGroup") ?? 0,',
    to: "gid: 0,",
    tests: [STATIC_PODS],
  },
  {
    name: "two-uids-one-secret-allowed",
    breaks: "two containers that reach one secret as different uids are refused",
    file: "agent/placement/static-pods.ts",
    from: "} else if (reader.uid !== container.uid) {",
    to: "} else if (reader.uid < 0) {",
    tests: [STATIC_PODS],
  },
  {
    name: "unknown-uid-taken-for-root",
    breaks: "a container whose uid nobody can know is refused",
    file: "agent/placement/static-pods.ts",
    from: "if (container.uid === undefined) {",
    to: "if (container.uid === undefined && container.name === '') {",
    tests: [STATIC_PODS],
  },
  {
    name: "shallowest-mount-wins",
    breaks: "each path goes through the container's deepest mount containing it",
    file: "agent/placement/pod-spec.ts",
    from: ".sort((a, b) => b.mountPath.length - a.mountPath.length);",
    to: ".sort((a, b) => a.mountPath.length - b.mountPath.length);",
    tests: [STATIC_PODS],
  },
  {
    name: "sub-path-ignored",
    breaks: "a hostPath volume plus its subPath",
    file: "agent/placement/pod-spec.ts",
    from: "return { mountPath, hostPath: path.posix.join(base, subPath), subPathUnknown: false };",
    to: "return { mountPath, hostPath: base, subPathUnknown: false };",
    tests: [STATIC_PODS],
  },
  {
    name: "args-not-expanded",
    breaks: "command and args after Kubernetes' $(VAR) expansion",
    file: "agent/placement/pod-spec.ts",
    from: "...stringList(entry.args).map(atRunTime),",
    to: "...stringList(entry.args),",
    tests: [STATIC_PODS],
  },
  {
    name: "probes-ignored",
    breaks: "exec liveness, readiness and startup probes",
    file: "agent/placement/pod-spec.ts",
    from: '...["livenessProbe", "readinessProbe", "startupProbe"].flatMap(',
    to: '...([] as string[]).flatMap(',
    tests: [STATIC_PODS],
  },
  {
    name: "hooks-ignored",
    breaks: "lifecycle postStart/preStop exec commands",
    file: "agent/placement/pod-spec.ts",
    from: '...["postStart", "preStop"].flatMap(',
    to: '...([] as string[]).flatMap(',
    tests: [STATIC_PODS],
  },
  {
    name: "dollar-escape-ignored",
    breaks: "$$ is a literal $",
    file: "agent/placement/expansion.ts",
    from: 'if (next === "$") {\n      output += "$";',
    to: 'if (next === "$") {\n      output += "$$";',
    tests: [STATIC_PODS],
  },
  // The transaction: order and flags
  {
    name: "temp-without-o-excl",
    breaks: "each secret is created under a temporary name with O_EXCL",
    file: "agent/transaction/steps.ts",
    from: "const fd = fs.openSync(step.temp, CREATE_NEW, step.mode);",
    to: "const fd = fs.openSync(step.temp, CREATE_NEW & ~fs.constants.O_EXCL, step.mode);",
    tests: [CONTRACT],
  },
  {
    name: "temp-without-o-nofollow",
    breaks: "a temp file is never opened through a link",
    file: "agent/transaction/steps.ts",
    from: "const fd = fs.openSync(step.temp, CREATE_NEW, step.mode);",
    to: "const fd = fs.openSync(step.temp, CREATE_NEW & ~fs.constants.O_NOFOLLOW, step.mode);",
    tests: [CONTRACT],
  },
  {
    name: "temp-0666-chmod-after-write",
    breaks: "its final mode and fchowned before its first byte",
    file: "agent/transaction/steps.ts",
    from: "CREATE_NEW, step.mode);\n    try {\n      fs.fchownSync(fd, step.uid, step.gid);\n      fs.fchmodSync(fd, step.mode);\n      writeAll(fd, step.content);",
    to: "CREATE_NEW, 0o666);\n    try {\n      writeAll(fd, step.content);\n      fs.fchownSync(fd, step.uid, step.gid);\n      fs.fchmodSync(fd, step.mode);",
    tests: [CONTRACT],
  },
  {
    name: "temp-not-chowned",
    breaks: "a secret belongs to the uid of the containers that reach it",
    file: "agent/transaction/steps.ts",
    from: "      fs.fchownSync(fd, step.uid, step.gid);\n      fs.fchmodSync(fd, step.mode);\n      writeAll",
    to: "      fs.fchmodSync(fd, step.mode);\n      writeAll",
    tests: [CONTRACT],
  },
  {
    name: "record-temp-truncated-in-place",
    breaks: "the record is written via a temporary file created exclusively",
    file: "agent/transaction/record.ts",
    from: "writeNewFile(temp, `${JSON.stringify(record, null, 1)}\\n`, 0o600);",
    to: "fs.writeFileSync(temp, `${JSON.stringify(record, null, 1)}\\n`, { mode: 0o600 });",
    tests: [CONTRACT],
  },
  {
    name: "record-not-flushed-before-rename",
    breaks: "a transaction is durable before its first rename",
    file: "agent/transaction/record.ts",
    from: "if (durable) syncFilesystems([temp, ...flushAlso]);",
    to: "if (durable && flushAlso.length < 0) syncFilesystems([temp, ...flushAlso]);",
    tests: [CONTRACT],
  },
  {
    name: "record-rename-not-fsynced",
    breaks: "the record's rename is made durable by its directory's fsync",
    file: "agent/transaction/record.ts",
    from: "if (durable) fsyncPath(host.directory(STATE_DIRECTORY));",
    to: "if (durable && flushAlso.length < 0) fsyncPath(host.directory(STATE_DIRECTORY));",
    tests: [CONTRACT],
  },
  {
    name: "one-filesystem-flushed",
    breaks: "one syncfs per filesystem touched",
    file: "agent/fsio/durability.ts",
    from: "if (!onePerDevice.has(device)) onePerDevice.set(device, file);",
    to: "if (onePerDevice.size === 0) onePerDevice.set(device, file);",
    tests: [CONTRACT],
  },
  {
    name: "renames-not-flushed",
    breaks: "the touched directories are synced after the renames",
    file: "agent/transaction/transaction.ts",
    from: "      this.undo.add(`undo ${step.kind} ${step.target}`, () => undoCommittedStep(step));\n    }\n    syncFilesystems(this.touchedDirectories());",
    to: "      this.undo.add(`undo ${step.kind} ${step.target}`, () => undoCommittedStep(step));\n    }",
    tests: [CONTRACT],
  },
  {
    name: "replaced-file-not-linked-aside",
    breaks: "every file that will be replaced is hard-linked to an undo name",
    file: "agent/transaction/steps.ts",
    from: 'if (step.undo !== undefined) attempt("link", step.target, () => fs.linkSync(step.target, step.undo!));',
    to: "",
    tests: [CONTRACT],
  },
  {
    name: "commit-recorded-as-prepare",
    breaks: "a commit record is rolled forward",
    file: "agent/transaction/transaction.ts",
    from: 'writeRecord(this.spec.host, this.record("commit"), true, this.touchedDirectories());',
    to: 'writeRecord(this.spec.host, this.record("prepare"), true, this.touchedDirectories());',
    tests: ["test/cli-apply.test.ts"],
  },
  {
    name: "undo-goes-past-failures",
    breaks: "a transaction stops at the first failed undo and leaves the rest to its record",
    file: "agent/transaction/transaction.ts",
    from: "this.undo.undo({ stopAtFirstFailure: true })",
    to: "this.undo.undo({ stopAtFirstFailure: false })",
    tests: [FAULTS],
  },
  {
    name: "signals-not-caught",
    breaks: "SIGTERM, SIGINT, SIGHUP before finish are rolled back in process",
    file: "agent/transaction/guard.ts",
    from: "for (const name of SIGNALS) process.on(name, onSignal);",
    to: "for (const name of SIGNALS.slice(3)) process.on(name, onSignal);",
    tests: [FAULTS],
  },
  {
    name: "signal-not-checked",
    breaks: "the transaction checks for signals between steps",
    file: "agent/transaction/guard.ts",
    from: "if (received !== undefined) throw interruptedBy(received);",
    to: "if (received === 'never') throw interruptedBy(received);",
    tests: [FAULTS],
  },
  // Recovery
  {
    name: "commit-record-not-rolled-forward",
    breaks: "a commit record is rolled forward: every temporary file it names is renamed into place",
    file: "agent/transaction/recovery.ts",
    from: "for (const step of steps) if (isPending(step)) take(",
    to: "for (const step of steps) if (isPending(step) && step.kind === 'chmod') take(",
    tests: ["test/cli-apply.test.ts"],
  },
  {
    name: "prepare-record-backup-kept",
    breaks: "a prepare record is rolled back, its backup deleted",
    file: "agent/transaction/recovery.ts",
    from: "if (backup !== undefined) take(`rm -f -- ${shellWord(backup)}`, () => removeIfPresent(backup));",
    to: "",
    tests: ["test/cli-apply.test.ts"],
  },
  {
    name: "stray-temps-kept",
    breaks: "stray temporary files of a dead run are removed",
    file: "agent/transaction/recovery.ts",
    from: "      if (!isSiblingName(entry)) continue;\n",
    to: "      if (entry.length > 0) continue;\n",
    tests: ["test/cli-apply.test.ts", APPLY],
  },
  // Parser checks
  {
    name: "cr-accepted",
    breaks: "CR or NUL bytes anywhere are refused",
    file: "agent/unpack/bundle-parser.ts",
    from: "  const cr = view.indexOf(0x0d);",
    to: "  const cr = view.indexOf(0x0d) * 0 - 1;",
    tests: ["test/unpack-parser.test.ts"],
  },
  {
    name: "hashes-in-content-accepted",
    breaks: "##### anywhere in a content line is refused",
    file: "agent/unpack/bundle-parser.ts",
    from: "if (!startsLine) {\n        if (byteOrderMarkEndsAt(",
    to: "if (!startsLine && marker < 0) {\n        if (byteOrderMarkEndsAt(",
    tests: ["test/unpack-parser.test.ts"],
  },
  {
    name: "dot-dot-accepted",
    breaks: ". and .. segments are refused",
    file: "agent/unpack/asset-name.ts",
    from: 'if (segment === "." || segment === "..") {',
    to: 'if (segment === ".") {',
    tests: ["test/unpack-parser.test.ts"],
  },
  {
    name: "reserved-prefix-accepted",
    breaks: "a path segment starting with .typhoon-agent is refused",
    file: "agent/unpack/asset-name.ts",
    from: "if (segment.startsWith(RESERVED_PREFIX)) {",
    to: "if (segment === RESERVED_PREFIX) {",
    tests: ["test/unpack-parser.test.ts"],
  },
  {
    name: "duplicate-names-accepted",
    breaks: "duplicate names are refused",
    file: "agent/unpack/asset-name.ts",
    from: "if (previous !== undefined) return `duplicate asset",
    to: "if (previous === -1) return `duplicate asset",
    tests: ["test/unpack-parser.test.ts"],
  },
  // Journal fields
  {
    name: "failed-entry-without-phase",
    breaks: "apply failed carries TYPHOON_PHASE",
    file: "agent/report/apply-journal.ts",
    from: "    TYPHOON_PHASE: failure.phase,\n",
    to: "",
    tests: ["test/journal-apply.test.ts", "test/cli-apply.test.ts"],
  },
  {
    name: "expiring-entry-without-days-left",
    breaks: "certificate expiring carries TYPHOON_DAYS_LEFT",
    file: "agent/report/verify-journal.ts",
    from: "TYPHOON_NOT_AFTER: notAfter, TYPHOON_DAYS_LEFT: daysLeft }",
    to: "TYPHOON_NOT_AFTER: notAfter }",
    tests: [VERIFY],
  },
  // Verify checks
  {
    name: "warn-days-default-30",
    breaks: "expiring within --warn-days (90) days is a warning",
    file: "agent/commands/verify.ts",
    from: "export const DEFAULT_WARN_DAYS = 90;",
    to: "export const DEFAULT_WARN_DAYS = 30;",
    tests: [VERIFY],
  },
  {
    name: "warn-days-inclusive",
    breaks: "a certificate with 90 days or more left is not a warning",
    file: "agent/verify/pki.ts",
    from: "} else if (daysLeft < input.warnDays) {",
    to: "} else if (daysLeft <= input.warnDays) {",
    tests: [VERIFY],
  },
  {
    name: "key-mismatch-ignored",
    breaks: "each certificate matches its private key",
    file: "agent/verify/pki.ts",
    from: "} else if (!certificate.checkPrivateKey(key)) {",
    to: "} else if (certificate.checkPrivateKey(key) === undefined) {",
    tests: [VERIFY],
  },
  {
    name: "chain-ignored",
    breaks: "each certificate chains to its CA",
    file: "agent/verify/pki.ts",
    from: "} else if (!signedBy(certificate, issuer)) {",
    to: "} else if (!signedBy(certificate, issuer) && spec.name === \"\") {",
    tests: [VERIFY],
  },
  {
    name: "mode-drift-ignored",
    breaks: "every recorded file has the mode apply gives it",
    file: "agent/verify/files.ts",
    from: "if ((stat.mode & 0o7777) !== expected.mode) {",
    to: "if ((stat.mode & 0o7777 & 0o700) !== (expected.mode & 0o700)) {",
    tests: [VERIFY],
  },
  // Configuration validation
  {
    name: "unpinned-image-accepted",
    breaks: "kubelet_image must be pinned by tag or digest",
    file: "agent/config/forms.ts",
    from: 'if (!PINNED.test(rest)) return "has no tag or digest',
    to: 'if (value === "") return "has no tag or digest',
    tests: ["test/config-forms.test.ts", "test/config-load.test.ts"],
  },
  {
    name: "reserved-label-namespace-accepted",
    breaks: "node-role.kubernetes.io/* is refused",
    file: "agent/config/labels.ts",
    from: "if (!RESERVED_NAMESPACES.some(within)) return undefined;",
    to: "if (!RESERVED_NAMESPACES.some(within) || key.length > 0) return undefined;",
    tests: ["test/config-forms.test.ts", "test/config-load.test.ts"],
  },
  {
    name: "unknown-key-accepted",
    breaks: "an unknown key is an error with a guess",
    file: "agent/config/load.ts",
    from: "    const key = knownKey(name, where);\n",
    to: "    if (!Object.hasOwn(CONFIG_KEYS, name)) continue;\n    const key = knownKey(name, where);\n",
    tests: ["test/config-load.test.ts"],
  },
  // Units invariants
  {
    name: "etc-kubernetes-writable",
    breaks: "/etc/kubernetes is mounted read-only into the kubelet",
    file: "agent/units/mounts.ts",
    from: '    host: "/etc/kubernetes",\n    container: "/etc/kubernetes",\n    readOnly: true,',
    to: '    host: "/etc/kubernetes",\n    container: "/etc/kubernetes",\n    readOnly: false,',
    tests: ["test/units-kubelet-service.test.ts", "test/units-runtime.test.ts", "test/units-kubelet-matrix.test.ts"],
  },
  // Backups and rollback
  {
    name: "four-backups-kept",
    breaks: "the newest five backups are kept",
    file: "agent/apply/backup.ts",
    from: "const KEEP_BACKUPS = 5;",
    to: "const KEEP_BACKUPS = 4;",
    tests: [BACKUPS],
  },
  {
    name: "backup-world-readable",
    breaks: "backups are 0600",
    file: "agent/apply/backup.ts",
    from: "writeNewFile(temporary, archive, 0o600);",
    to: "writeNewFile(temporary, archive, 0o644);",
    tests: [APPLY, CONTRACT],
  },
  {
    name: "backup-mtime-seconds-only",
    breaks: "mtimes to the millisecond in a PAX record",
    file: "agent/apply/backup.ts",
    from: "return { mtime: new Date(mtimeMs), pax: { mtime: (mtimeMs / 1000).toFixed(6) } };",
    to: "return { mtime: new Date(mtimeMs), pax: { mtime: Math.floor(mtimeMs / 1000).toFixed(6) } };",
    tests: [APPLY],
  },
  {
    name: "rollback-uses-oldest-backup",
    breaks: "rollback restores the newest backup",
    file: "agent/apply/backup.ts",
    from: "realChild(directory, all[all.length - 1]!)",
    to: "realChild(directory, all[0]!)",
    tests: [BACKUPS],
  },
  {
    name: "rollback-keeps-created-files",
    breaks: "every file and directory the last apply created is removed",
    file: "agent/apply/rollback.ts",
    from: "    if (statIfExists(target) !== undefined) remove(file, target);\n  }\n  // A directory",
    to: "  }\n  // A directory",
    tests: [BACKUPS, APPLY],
  },
  {
    name: "rollback-backup-not-consumed",
    breaks: "the backup is consumed once the rollback succeeded",
    file: "agent/apply/rollback.ts",
    from: 'attempt("remove the used backup", host.display(file), () => fs.rmSync(file));',
    to: "",
    tests: [APPLY, BACKUPS],
  },
  // Removals
  {
    name: "unlistable-directory-taken-for-empty",
    breaks: "a directory that cannot be listed is not an empty one",
    file: "agent/fsio/read-only.ts",
    from: 'if (code === "ENOENT" || code === "ENOTDIR") return [];\n    throw fromSystemError(error, "list", shownAs);',
    to: "return [];",
    tests: [FAULTS],
  },
  {
    name: "legacy-secrets-kept",
    breaks: "/etc/kubernetes/bootstrap-secrets (2019) is migrated",
    file: "agent/plan/removals.ts",
    from: '  { path: "/etc/kubernetes/bootstrap-secrets", why:',
    to: '  { path: "/etc/kubernetes/bootstrap-secrets-never", why:',
    tests: [APPLY],
  },
  {
    name: "stale-file-outside-managed-directories",
    breaks: "the install record is trusted to name what the agent put inside its managed directories, nothing more",
    file: "agent/plan/removals.ts",
    from: ".filter((file) => !wanted.has(file) && managedDirectoryOf(file) !== undefined)",
    to: ".filter((file) => !wanted.has(file))",
    tests: [APPLY],
  },
  // Metrics for node-exporter's textfile collector
  {
    name: "metrics-file-unreadable-to-node-exporter",
    breaks: "node-exporter, running as nobody, reads the metrics files",
    file: "agent/metrics/textfile.ts",
    from: "const TEXTFILE_MODE = 0o644;",
    to: "const TEXTFILE_MODE = 0o600;",
    tests: [METRICS_FILES, "test/metrics-consumers.test.ts"],
  },
  {
    name: "metrics-file-not-flushed",
    breaks: "a metrics file is flushed before its rename, so a power cut leaves no empty file",
    file: "agent/metrics/textfile.ts",
    from: "    fs.fsyncSync(fd);\n",
    to: "",
    tests: [METRICS_FILES],
  },
  {
    name: "metrics-expired-inverted",
    breaks: "x509_cert_expired is 1 for an expired certificate",
    file: "agent/metrics/certificates.ts",
    from: "checkedAt.getTime() > Date.parse(row.notAfter) ? 1 : 0",
    to: "checkedAt.getTime() > Date.parse(row.notAfter) ? 0 : 1",
    tests: [METRICS_FILES, "test/metrics-consumers.test.ts"],
  },
  {
    name: "metrics-outcome-inverted",
    breaks: "one series per outcome, 1 for the run's",
    file: "agent/metrics/run-files.ts",
    from: "value: outcome === current ? 1 : 0",
    to: "value: outcome === current ? 0 : 1",
    tests: [METRICS_FILES, "test/metrics-consumers.test.ts"],
  },
  // unpack
  {
    name: "unpack-files-world-readable",
    breaks: "unpack writes files 0600",
    file: "agent/unpack/unpack-to-directory.ts",
    from: "const FILE_MODE = 0o600;",
    to: "const FILE_MODE = 0o644;",
    tests: ["test/cli-unpack.test.ts", CONTRACT],
  },
  {
    name: "unpack-staging-not-exclusive",
    breaks: "unpack creates every asset new, never through an existing file",
    file: "agent/unpack/unpack-to-directory.ts",
    from: "this.fd = fs.openSync(file, CREATE_NEW, FILE_MODE);",
    to: "this.fd = fs.openSync(file, CREATE_NEW & ~fs.constants.O_EXCL, FILE_MODE);",
    tests: [CONTRACT],
  },
  {
    name: "unpack-replaced-file-not-kept",
    breaks: "a failure half-way puts every old file back",
    file: "agent/unpack/move-into-place.ts",
    from: "      if (plan.replaced.has(file)) setAside.keep(destination);\n",
    to: "",
    tests: ["test/unpack-commit.test.ts"],
  },
];

/** How often `needle` occurs in `text`, overlapping occurrences counted. */
export function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) count++;
  return count;
}

/** `text` with the mutant planted; throws unless its anchor occurs exactly once. */
export function plant(text: string, mutant: Mutant): string {
  const found = occurrences(text, mutant.from);
  if (found !== 1) throw new Error(`mutant ${mutant.name}: its anchor occurs ${found} times in ${mutant.file}, expected once`);
  return text.replace(mutant.from, () => mutant.to);
}
