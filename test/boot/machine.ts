// One first boot of a root filesystem (cache.ts) as a Typhoon node: the harness additions,
// the real Ignition, systemd-nspawn or QEMU, and reading back what the boot left. Boots:
// "nspawn", "rejected" and "qemu" are Fedora CoreOS controllers, "worker" a worker in
// systemd-nspawn, "flatcar" a Flatcar controller (docker, the agent from its sysext image) in
// systemd-nspawn. The harness adds only what a test needs and a node does not have: a way to
// power off when done, a first-boot machine-id, two masked units that cannot work without a
// console or a network, a unit that drops the bundle after boot (nspawn, flatcar) or drops a
// rejected one and then re-uploads a good one (rejected), a stand-in kubelet command (nspawn,
// rejected, worker) and, on the Flatcar stand-in, what Flatcar has and Debian lacks; see guest/.

import * as fs from "node:fs";
import * as path from "node:path";
import { BUNDLE_PATH } from "../../packaging/agent-files.ts";
import { GUEST_FILES, IGNITION, STAND_IN_KUBELET_IMAGE, writeKubeletImage, type KernelFiles } from "./cache.ts";
import { run, tail, type RunResult } from "./run.ts";

export type Boot = "nspawn" | "qemu" | "worker" | "flatcar" | "rejected";

/** Where the harness's guest files go inside the machine. */
const HARNESS = "/usr/local/lib/typhoon-boot-test";
const NSPAWN_TIMEOUT_SECONDS = 300;
const QEMU_TIMEOUT_SECONDS = Number(process.env.QEMU_TIMEOUT ?? 480);

function inRoot(root: string, file: string): string {
  return path.join(root, file);
}

/** The EC2 metadata the Flatcar boot's coreos-metadata.service stand-in writes (platform aws). */
export const AWS_METADATA = { COREOS_EC2_AVAILABILITY_ZONE: "us-east-1a", COREOS_EC2_INSTANCE_ID: "i-0123456789abcdef0" } as const;

function install(root: string, guestFile: string, target: string, mode: number): void {
  fs.mkdirSync(path.dirname(inRoot(root, target)), { recursive: true });
  const text = fs
    .readFileSync(path.join(GUEST_FILES, guestFile), "utf8")
    .replaceAll("@KUBELET_IMAGE@", STAND_IN_KUBELET_IMAGE)
    .replaceAll("@AWS_ZONE@", AWS_METADATA.COREOS_EC2_AVAILABILITY_ZONE)
    .replaceAll("@AWS_INSTANCE_ID@", AWS_METADATA.COREOS_EC2_INSTANCE_ID);
  fs.writeFileSync(inRoot(root, target), text);
  fs.chmodSync(inRoot(root, target), mode);
}

function enable(root: string, unit: string, target = "multi-user.target"): void {
  fs.mkdirSync(inRoot(root, `etc/systemd/system/${target}.wants`), { recursive: true });
  fs.symlinkSync(`/etc/systemd/system/${unit}`, inRoot(root, `etc/systemd/system/${target}.wants/${unit}`));
}

/** A harness unit, installed and enabled. */
function harnessUnit(root: string, unit: string, target?: string): void {
  install(root, unit, `etc/systemd/system/${unit}`, 0o644);
  enable(root, unit, target);
}

function writeAs(root: string, file: string, content: Buffer, mode: number, owner: { uid: number; gid: number }): void {
  fs.mkdirSync(path.dirname(inRoot(root, file)), { recursive: true });
  fs.writeFileSync(inRoot(root, file), content, { mode });
  fs.chownSync(inRoot(root, file), owner.uid, owner.gid);
}

function accountOf(root: string, user: string): { uid: number; gid: number } {
  const line = fs.readFileSync(inRoot(root, "etc/passwd"), "utf8").split("\n").find((entry) => entry.startsWith(`${user}:`));
  const fields = line?.split(":");
  if (fields === undefined) throw new Error(`no user ${user} in the root filesystem`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Prepares a fresh copy of the cached root for one boot; `rejectedBundle` is the "rejected" boot's first upload. */
export async function prepareRoot(root: string, boot: Boot, bundle: Buffer, rejectedBundle?: Buffer): Promise<void> {
  // a first boot, as on a new node: systemd applies the presets Ignition wrote
  fs.writeFileSync(inRoot(root, "etc/machine-id"), "uninitialized\n");
  // the first-boot wizard fails without a console; wait-online (podman pulls it in) would
  // hold the boot for two minutes without a network
  for (const unit of ["systemd-firstboot.service", "systemd-networkd-wait-online.service"]) {
    fs.symlinkSync("/dev/null", inRoot(root, `etc/systemd/system/${unit}`));
  }
  install(root, "finish.sh", `${HARNESS}/finish.sh`, 0o755);
  harnessUnit(root, "boot-test-finish.service");

  if (boot === "nspawn" || boot === "flatcar" || boot === "rejected") {
    // the harness uploads it as user core (boot-test-drop-bundle.service), as Terraform does
    writeAs(root, "var/lib/typhoon-boot-test/assets", bundle, 0o600, accountOf(root, "core"));
  }
  if (boot === "nspawn" || boot === "flatcar") harnessUnit(root, "boot-test-drop-bundle.service");
  if (boot === "rejected") {
    if (rejectedBundle === undefined) throw new Error("the rejected boot needs the bundle to reject");
    writeAs(root, "var/lib/typhoon-boot-test/rejected-assets", rejectedBundle, 0o600, { uid: 0, gid: 0 });
    install(root, "drop-rejected.sh", `${HARNESS}/drop-rejected.sh`, 0o755);
    harnessUnit(root, "boot-test-drop-rejected.service");
  }
  if (boot === "nspawn" || boot === "worker" || boot === "rejected") {
    install(root, "kubelet-stub.conf", "etc/systemd/system/kubelet.service.d/50-boot-test-stub.conf", 0o644);
  }
  if (boot === "qemu") {
    // present at boot, as the file provisioner (user core, mode 0644) leaves it
    writeAs(root, BUNDLE_PATH, bundle, 0o644, accountOf(root, "core"));
    fs.writeFileSync(inRoot(root, `${HARNESS}/kubelet-container`), "podman");
  }
  if (boot === "flatcar") {
    harnessUnit(root, "ensure-sysext.service", "sysinit.target");
    harnessUnit(root, "boot-test-cgroups.service", "sysinit.target");
    harnessUnit(root, "boot-test-kubelet-image.service");
    // started by kubelet.service (Requires=), as on an EC2 node
    install(root, "coreos-metadata.service", "etc/systemd/system/coreos-metadata.service", 0o644);
    await writeKubeletImage(inRoot(root, "var/lib/typhoon-boot-test/kubelet-image.tar"));
    fs.writeFileSync(inRoot(root, `${HARNESS}/kubelet-container`), "docker");
  }
}

/**
 * Ignition against a root on the host (-platform file), stage by stage as Fedora CoreOS's
 * initrd runs them: fetch-offline, fetch when it found the config needs the network (the
 * binary's URL), files. Returns false, with the log, when a stage fails.
 */
export async function runIgnition(root: string, config: string, work: string): Promise<{ ok: boolean; log: string }> {
  const state = fs.mkdtempSync(path.join(work, "ignition-"));
  const shims = path.join(state, "bin");
  fs.mkdirSync(shims);
  fs.copyFileSync(path.join(GUEST_FILES, "setfiles"), path.join(shims, "setfiles"));
  fs.chmodSync(path.join(shims, "setfiles"), 0o755);
  const neednet = path.join(state, "neednet");
  let log = "";
  for (const stage of ["fetch-offline", "fetch", "files"]) {
    if (stage === "fetch" && !fs.existsSync(neednet)) continue;
    const args = ["-platform", "file", "-stage", stage, "-root", root, "-log-to-stdout"];
    args.push("-config-cache", path.join(state, "config.json"), "-state-file", path.join(state, "state"), "-neednet", neednet);
    const result = await run(IGNITION, args, {
      timeoutSeconds: 120,
      env: { PATH: `${shims}:/usr/sbin:/usr/bin:/sbin:/bin`, IGNITION_CONFIG_FILE: config },
      allowFailure: true,
      logFile: path.join(state, `${stage}.log`),
    });
    log += result.output;
    if (result.exitCode !== 0 || result.timedOut) return { ok: false, log };
  }
  return { ok: true, log };
}

export interface BootResult {
  console: string;
  /** The directory that holds the machine's files as the boot left them (its root, or a read-back). */
  tree: string;
  /** The machine's persistent journal directory. */
  journal: string;
  /** The SELinux label of a path in the machine; only QEMU guests run with SELinux. */
  selinuxLabel?: (file: string) => Promise<string | undefined>;
}

function checkConsole(result: RunResult, consoleLog: string, poweredOff: RegExp, what: string): void {
  const problem = result.timedOut ? "timed out" : result.exitCode !== 0 ? `exited ${result.exitCode}` : poweredOff.test(consoleLog) ? "" : "did not power off";
  if (problem !== "") throw new Error(`${what} ${problem}; console:\n${tail(consoleLog, 40)}`);
}

/**
 * What the Flatcar stand-in needs of nspawn. systemd-sysext mounts the image through a loop
 * device, and nspawn's /dev has none: the host's loop-control and loop devices are bound in
 * (the kernel hands out a free one, so concurrent users do not collide). runc joins a session
 * keyring for every container, which nspawn's seccomp filter refuses unless allowed (podman
 * was told not to, cache.ts). The rest is in the root: guest/runc-bounded and
 * guest/boot-test-cgroups.service.
 */
function flatcarNspawnOptions(): string[] {
  const loopDevices = fs.readdirSync("/dev").filter((name) => /^loop(-control|\d+)$/.test(name));
  return ["--system-call-filter=add_key keyctl request_key", ...loopDevices.map((name) => `--bind=/dev/${name}`)];
}

export async function bootNspawn(root: string, work: string, boot: Boot): Promise<BootResult> {
  const result = await run(
    "systemd-nspawn",
    [
      ...["-q", "-D", root, "-b", `--machine=typhoon-boot-${process.pid}-${boot}`, "--private-network", "--link-journal=no"],
      // no systemd (machined) on the host side to register with or to make a scope
      ...["--keep-unit", "--register=no", "--console=read-only", "--setenv=SYSTEMD_COLORS=0"],
      ...(boot === "flatcar" ? flatcarNspawnOptions() : []),
    ],
    { timeoutSeconds: NSPAWN_TIMEOUT_SECONDS, allowFailure: true, logFile: path.join(work, `${boot}-console.log`) },
  );
  checkConsole(result, result.output, /Powering off\./, "systemd-nspawn");
  return { console: result.output, tree: root, journal: inRoot(root, "var/log/journal") };
}

/** Paths read back from the disk image after a QEMU boot (debugfs, nothing mounted). */
const READ_BACK = ["/etc", "/home", "/opt", "/usr/local", "/var/lib/typhoon-agent", "/var/lib/node_exporter", "/var/lib/systemd/catalog", "/var/log/journal"];

/**
 * The Fedora CoreOS way: the root as an ext4 disk, the config in QEMU's fw_cfg where
 * Ignition's qemu platform reads it, Ignition in the initrd on the first boot. TCG (there
 * is no usable KVM here), no network.
 */
export async function bootQemu(root: string, config: string, kernel: KernelFiles, work: string): Promise<BootResult> {
  const image = path.join(work, "root.img");
  await run("truncate", ["-s", "3G", image], { timeoutSeconds: 30 });
  await run("mkfs.ext4", ["-q", "-F", "-L", "root", "-d", root, image], { timeoutSeconds: 300 });
  const consoleLog = path.join(work, "qemu-console.log");
  const result = await run(
    "qemu-system-x86_64",
    [
      // -cpu max: the x64 Bun runtime needs AVX2 (x86-64-v3), which QEMU's default CPU model lacks
      ...["-accel", process.env.QEMU_ACCEL ?? "tcg", "-cpu", "max", "-smp", "2", "-m", "1536"],
      ...["-nodefaults", "-display", "none", "-nic", "none", "-no-reboot", "-serial", `file:${consoleLog}`],
      ...["-kernel", kernel.vmlinuz, "-initrd", kernel.initrd, "-drive", `file=${image},format=raw,if=virtio`],
      ...["-fw_cfg", `name=opt/com.coreos/config,file=${config}`],
      // security=selinux: the guest runs Debian's SELinux policy (cache.ts)
      "-append",
      "console=ttyS0 root=/dev/vda rw panic=-1 systemd.show_status=1 SYSTEMD_COLORS=0 ignition.firstboot ignition.platform.id=qemu security=selinux",
    ],
    { timeoutSeconds: QEMU_TIMEOUT_SECONDS, allowFailure: true },
  );
  const consoleText = fs.existsSync(consoleLog) ? fs.readFileSync(consoleLog, "latin1") : "";
  if (/IGNITION STAGE \S+ FAILED/.test(consoleText)) throw new Error(`Ignition failed in the initrd; console:\n${tail(consoleText, 40)}`);
  // QEMU exits 0 after a panic too (panic=-1, -no-reboot): only the kernel's last word tells
  checkConsole(result, consoleText, /reboot: Power down/, "QEMU");

  const tree = path.join(work, "read-back");
  const commands = READ_BACK.map((directory) => {
    fs.mkdirSync(path.join(tree, path.dirname(directory)), { recursive: true });
    return `rdump ${directory} ${path.join(tree, path.dirname(directory))}`;
  });
  const commandFile = path.join(work, "debugfs-commands");
  fs.writeFileSync(commandFile, `${commands.join("\n")}\n`);
  await run("debugfs", ["-f", commandFile, image], { timeoutSeconds: 120, logFile: path.join(work, "debugfs.log") });
  const selinuxLabel = async (file: string): Promise<string | undefined> => {
    const result = await run("debugfs", ["-R", `ea_get -V ${file} security.selinux`, image], { timeoutSeconds: 30, allowFailure: true });
    // the value, NUL-terminated, amid debugfs's banner on stderr
    return /[a-z_]+:[a-z_]+:[a-z_]+:s\d[^\0\s]*/.exec(result.output)?.[0];
  };
  return { console: consoleText, tree, journal: path.join(tree, "var/log/journal"), selinuxLabel };
}
