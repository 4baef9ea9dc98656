// What every boot starts from, built once and cached (BOOT_TEST_CACHE, default
// /var/cache/typhoon-agent-boot), under a name derived from everything that goes into it,
// so a change to the recipe builds a fresh one:
// - a root filesystem per OS: Debian (the host's release and apt sources) with systemd, udev
//   and dbus, and podman standing in for Fedora CoreOS, or docker.io (dockerd, containerd)
//   for Flatcar, whose images cannot be downloaded here; plus what each OS has and Debian
//   lacks, as far as the agent and the kubelet unit it renders rely on it (ROOTS below), and
//   (Fedora CoreOS) a stand-in kubelet image imported into podman (no registry; the Flatcar
//   boot imports its own into docker at boot, machine.ts);
// - a kernel (Debian's cloud kernel) and a busybox initrd that runs the real Ignition.
// A cached root is never booted: each boot works on a copy.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "./run.ts";

const CACHE = process.env.BOOT_TEST_CACHE ?? "/var/cache/typhoon-agent-boot";
export const IGNITION = "/usr/lib/dracut/modules.d/30ignition/ignition";
export const GUEST_FILES = path.join(import.meta.dir, "guest");
/**
 * The kubelet image agent.yaml names in the boot test: busybox and kubelet-entrypoint.sh,
 * tagged with the kubelet release the agent renders for (the tag says the version).
 */
export const STAND_IN_KUBELET_IMAGE = "localhost/typhoon-boot-test/kubelet:v1.36.1";
/** Where the Flatcar stand-in's docker finds its runtime (guest/runc-bounded). */
const RUNC_BOUNDED = "/usr/local/lib/typhoon-boot-test/runc-bounded";

// SELinux: Fedora CoreOS has it on, the kubelet unit mounts /sys/fs/selinux and apply labels
// the pki tree. Debian's policy, permissive (its default) and with `security=selinux` on the
// kernel command line (machine.ts), gives a QEMU guest the same; nspawn guests run without.
// podman in the guest: vfs, since the guest kernel has no overlay module; no session keyring,
// which nspawn's seccomp filter refuses ("crun: create keyring: EPERM"); no SELinux labels,
// since Debian's policy has none of the container types Fedora's has; events in the journal,
// where the test looks for the kubelet container's start.
const STORAGE_CONF = '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n';
const CONTAINERS_CONF = '[containers]\nkeyring = false\nlabel = false\n\n[engine]\nevents_logger = "journald"\n';

/** etcd's uid on Flatcar (and in Typhoon's etcd unit). */
const ETCD_UID = 232;
/** A controller's etcd: Debian's standing in for Typhoon's etcd-member container (boot/etcd.ts). */
const ETCD_PACKAGES = ["etcd-server", "etcd-client"];

/**
 * What both OSes have and Debian lacks: a core user and etcd among the system users kept in
 * /usr/lib/passwd, and /etc/ssl (its CA bundle), in which apply creates /etc/ssl/etcd; each
 * recipe adds a /lib/modules (no kernel package here), which the kubelet unit mounts.
 * Debian's etcd-server made an etcd user in /etc/passwd and an etcd.service; a node has
 * neither (etcd is a /usr/lib/passwd system user, and etcd-member.service runs etcd). Masked,
 * not disabled: the first boot's preset-all would enable it again.
 */
const COMMON_SETUP = `set -eu
useradd --create-home --user-group --uid 1000 core
userdel etcd
getent group etcd >/dev/null && groupdel etcd
systemctl mask etcd.service
rm -rf /var/lib/etcd
mkdir -p /etc/ssl
echo 'etcd:x:${ETCD_UID}:${ETCD_UID}:etcd:/var/lib/etcd:/usr/sbin/nologin' >> /usr/lib/passwd
echo 'etcd:x:${ETCD_UID}:' >> /usr/lib/group
`;

export type RootKind = "fedora-coreos" | "flatcar";

interface RootRecipe {
  packages: readonly string[];
  /** Run inside the new root (podman needs /proc: nspawn, not chroot). */
  setup: string;
  /** Configuration files written into the root before the setup runs. */
  files: Readonly<Record<string, string>>;
}

// docker in the Flatcar stand-in, in systemd-nspawn: vfs (no overlay module in this kernel),
// no bridge and no iptables (the guest has no network, and the kubelet container runs with
// the host's network anyway), and runc through guest/runc-bounded, which drops the
// capabilities this machine withholds from every process (a --privileged container asks for
// all of them).
const DOCKER_DAEMON_JSON = `${JSON.stringify(
  {
    "storage-driver": "vfs",
    bridge: "none",
    iptables: false,
    "ip-masq": false,
    runtimes: { "runc-bounded": { path: RUNC_BOUNDED } },
    "default-runtime": "runc-bounded",
  },
  null,
  2,
)}\n`;

const ROOTS: Readonly<Record<RootKind, RootRecipe>> = {
  // SELinux: Fedora CoreOS has it on, the kubelet unit mounts /sys/fs/selinux and apply labels
  // the pki tree. Debian's policy, permissive (its default) and with `security=selinux` on the
  // kernel command line (machine.ts), gives a QEMU guest the same; nspawn guests run without.
  // With containerd.service on as Typhoon configures it, Fedora CoreOS has /var/lib/containerd.
  "fedora-coreos": {
    packages: ["systemd", "systemd-sysv", "udev", "dbus", "podman", "selinux-policy-default", ...ETCD_PACKAGES],
    // Its policy defines container_file_t, the label apply gives /etc/kubernetes/pki (as
    // upstream's chcon did); Debian's does not, and setting a label the policy lacks takes
    // CAP_MAC_ADMIN, which typhoon-agent.service does not keep.
    setup: `${COMMON_SETUP}printf '(type container_file_t)\n(roletype object_r container_file_t)\n' > /tmp/container_file.cil
semodule -i /tmp/container_file.cil
rm /tmp/container_file.cil
mkdir -p /usr/lib/modules /var/lib/containerd
podman --events-backend=none import --change 'ENTRYPOINT ["/bin/kubelet"]' /var/tmp/kubelet-image.tar ${STAND_IN_KUBELET_IMAGE}
`,
    files: { "etc/containers/storage.conf": STORAGE_CONF, "etc/containers/containers.conf": CONTAINERS_CONF },
  },
  // Flatcar: docker and containerd, systemd-sysext.service enabled, as Flatcar has them.
  flatcar: {
    packages: ["systemd", "systemd-sysv", "udev", "dbus", "docker.io", ...ETCD_PACKAGES],
    setup: `${COMMON_SETUP}mkdir -p /usr/lib/modules
chmod 0755 ${RUNC_BOUNDED}
systemctl enable systemd-sysext.service docker.service containerd.service
`,
    files: {
      "etc/docker/daemon.json": DOCKER_DAEMON_JSON,
      [RUNC_BOUNDED.slice(1)]: fs.readFileSync(path.join(GUEST_FILES, "runc-bounded"), "utf8"),
      // Flatcar's own (SELinux permissive); Ignition reads it to relabel what it wrote
      "etc/selinux/config": "SELINUX=permissive\nSELINUXTYPE=mcs\n",
    },
  },
};


function digest(...parts: Array<string | Buffer>): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex").slice(0, 12);
}

/**
 * The host's apt sources and the release they name, so the root comes from the same archive
 * (or snapshot) as the host. The sources, not /etc/os-release, say which Debian it is.
 */
function hostSources(): { file: string; suite: string } {
  for (const file of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    const suite = (/^Suites:\s*(\S+)/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?\S+\s+(\S+)/m.exec(text))?.[1];
    if (suite !== undefined) return { file, suite };
  }
  throw new Error("no Debian apt sources on this host");
}

/**
 * CACHE/<kind>-<key>, built with `build(temporary)` unless it is there; the rename publishes
 * it whole, and the cache keeps the newest two of each kind: two branches that differ in a
 * recipe (engineers work side by side on this machine) then do not evict each other's root,
 * possibly while the other one copies it.
 */
async function cached(kind: string, key: string, build: (directory: string) => Promise<void>): Promise<string> {
  const final = path.join(CACHE, `${kind}-${key}`);
  if (fs.existsSync(final)) return final;
  fs.mkdirSync(CACHE, { recursive: true });
  const temporary = `${final}.building-${process.pid}`;
  fs.rmSync(temporary, { recursive: true, force: true });
  try {
    await build(temporary);
    if (!fs.existsSync(final)) fs.renameSync(temporary, final);
  } finally {
    fs.rmSync(temporary, { recursive: true, force: true });
  }
  const older = fs
    .readdirSync(CACHE)
    .filter((entry) => entry.startsWith(`${kind}-`) && entry !== path.basename(final) && !entry.includes(".building-") && !entry.endsWith(".log"))
    .map((entry) => ({ entry, mtime: fs.statSync(path.join(CACHE, entry)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { entry } of older.slice(1)) fs.rmSync(path.join(CACHE, entry), { recursive: true, force: true });
  return final;
}

export async function rootFilesystem(kind: RootKind = "fedora-coreos"): Promise<string> {
  const recipe = ROOTS[kind];
  const { file: sources, suite } = hostSources();
  const guestInputs = ["kubelet-entrypoint.sh"].map((name) => fs.readFileSync(path.join(GUEST_FILES, name)));
  const key = digest(suite, recipe.packages.join(","), recipe.setup, ...Object.values(recipe.files), ...guestInputs);
  // the Fedora CoreOS root keeps the name it always had; no other kind's name starts with it
  const cacheKind = kind === "fedora-coreos" ? "rootfs" : `${kind}-rootfs`;
  return cached(cacheKind, `${suite}-${key}`, async (root) => {
    const log = path.join(CACHE, `${cacheKind}-build.log`);
    await run(
      "mmdebstrap",
      [
        "--variant=essential",
        `--include=${recipe.packages.join(",")}`,
        // without it, bookworm pulls in usrmerge and perl (+50 MB)
        "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
        ...["man", "doc", "locale", "info"].map((directory) => `--dpkgopt=path-exclude=/usr/share/${directory}/*`),
        suite,
        root,
        sources,
      ],
      { timeoutSeconds: 900, logFile: log },
    );
    for (const [file, text] of Object.entries(recipe.files)) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    }
    await writeKubeletImage(path.join(root, "var/tmp/kubelet-image.tar"));
    await run("systemd-nspawn", ["-q", "-D", root, "--keep-unit", "--register=no", "--private-network", "--pipe", "/bin/sh", "-s"], {
      timeoutSeconds: 300,
      input: recipe.setup,
      logFile: path.join(CACHE, `${cacheKind}-setup.log`),
    });
    fs.rmSync(path.join(root, "var/tmp/kubelet-image.tar"));
  });
}

/** busybox (from busybox-static) with kubelet-entrypoint.sh as /bin/kubelet, as a tar for podman or docker import. */
export async function writeKubeletImage(tarball: string): Promise<void> {
  const image = fs.mkdtempSync(path.join(os.tmpdir(), "kubelet-image-"));
  try {
    fs.mkdirSync(path.join(image, "bin"));
    fs.copyFileSync("/bin/busybox", path.join(image, "bin/busybox"));
    for (const applet of ["sh", "echo", "sleep"]) fs.symlinkSync("busybox", path.join(image, "bin", applet));
    fs.copyFileSync(path.join(GUEST_FILES, "kubelet-entrypoint.sh"), path.join(image, "bin/kubelet"));
    fs.chmodSync(path.join(image, "bin/kubelet"), 0o755);
    await run("tar", ["-C", image, "-cf", tarball, "."], { timeoutSeconds: 60 });
  } finally {
    fs.rmSync(image, { recursive: true, force: true });
  }
}

export interface KernelFiles {
  vmlinuz: string;
  initrd: string;
}

/** virtio_blk and qemu_fw_cfg are modules in Debian's cloud kernel (ext4 is built in). */
const INITRD_MODULES = ["virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_blk", "qemu_fw_cfg"];

export async function kernelAndInitrd(): Promise<KernelFiles> {
  const depends = await run("apt-cache", ["depends", "linux-image-cloud-amd64"], { timeoutSeconds: 60 });
  const kernelPackage = /Depends: (linux-image-\d\S*)/.exec(depends.output)?.[1];
  if (kernelPackage === undefined) throw new Error(`cannot tell which kernel linux-image-cloud-amd64 is (apt-get update?):\n${depends.output}`);
  const version = kernelPackage.slice("linux-image-".length);
  const init = fs.readFileSync(path.join(GUEST_FILES, "initrd-init.sh"));
  const setfiles = fs.readFileSync(path.join(GUEST_FILES, "setfiles"));
  const key = digest(version, init, setfiles, fs.readFileSync(IGNITION), INITRD_MODULES.join(","));
  const directory = await cached("kernel", `${version}-${key}`, async (output) => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "boot-kernel-"));
    try {
      await run("apt-get", ["download", "-qq", "-o", "APT::Sandbox::User=root", kernelPackage], { timeoutSeconds: 600, cwd: work });
      const deb = fs.readdirSync(work).find((name) => name.startsWith(`${kernelPackage}_`) && name.endsWith(".deb"));
      if (deb === undefined) throw new Error(`apt-get download ${kernelPackage} left no .deb`);
      const extracted = path.join(work, "package");
      fs.mkdirSync(extracted);
      const wanted = [`./boot/vmlinuz-${version}`, "./lib/modules/*/kernel/drivers/virtio/*", "./lib/modules/*/kernel/drivers/block/virtio_blk.ko", "./lib/modules/*/kernel/drivers/firmware/qemu_fw_cfg.ko"];
      await run("sh", ["-c", 'deb=$1; out=$2; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out" --wildcards "$@"', "sh", path.join(work, deb), extracted, ...wanted], {
        timeoutSeconds: 300,
      });
      fs.mkdirSync(output);
      fs.copyFileSync(path.join(extracted, `boot/vmlinuz-${version}`), path.join(output, "vmlinuz"));
      await writeInitrd(path.join(work, "initrd"), path.join(extracted, "lib/modules", version), version, path.join(output, "initrd.img"));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
  return { vmlinuz: path.join(directory, "vmlinuz"), initrd: path.join(directory, "initrd.img") };
}

/** busybox, the virtio modules, the real Ignition with its libraries, the setfiles stand-in, /init. */
async function writeInitrd(tree: string, modules: string, version: string, initrd: string): Promise<void> {
  for (const directory of ["bin", "proc", "sys", "dev", "run", "tmp", "sysroot", `lib/modules/${version}`]) {
    fs.mkdirSync(path.join(tree, directory), { recursive: true });
  }
  fs.copyFileSync("/bin/busybox", path.join(tree, "bin/busybox")); // busybox-static: no libraries needed
  for (const module of INITRD_MODULES) {
    const found = fs.readdirSync(modules, { recursive: true, encoding: "utf8" }).find((file) => path.basename(file) === `${module}.ko`);
    if (found === undefined) throw new Error(`${module}.ko is not in the kernel package`);
    fs.copyFileSync(path.join(modules, found), path.join(tree, `lib/modules/${version}/${module}.ko`));
  }
  await run("/bin/busybox", ["depmod", "-b", tree, version], { timeoutSeconds: 60 });
  fs.copyFileSync(IGNITION, path.join(tree, "bin/ignition"));
  const libraries = await run("ldd", [IGNITION], { timeoutSeconds: 60 });
  for (const library of libraries.output.match(/\/\S+/g) ?? []) {
    fs.mkdirSync(path.join(tree, path.dirname(library)), { recursive: true });
    fs.copyFileSync(fs.realpathSync(library), path.join(tree, library));
  }
  for (const [name, target] of [["setfiles", "bin/setfiles"], ["initrd-init.sh", "init"]] as const) {
    fs.copyFileSync(path.join(GUEST_FILES, name), path.join(tree, target));
    fs.chmodSync(path.join(tree, target), 0o755);
  }
  await run("sh", ["-c", 'cd "$1" && find . | cpio -o -H newc --quiet | gzip -1 > "$2"', "sh", tree, initrd], { timeoutSeconds: 120 });
}
