// `npm run build:release`: the agent for both architectures Typhoon runs on, as a bare binary
// (Fedora CoreOS, Container Linux) and as a systemd-sysext image holding the binary, the units
// and the journal catalog (Flatcar; scripts/sysext.ts), each with a `sha512sum`-format
// checksum file whose hex is what the Ignition snippets verify (packaging/README.md):
//
//   dist/typhoon-agent-linux-x64      dist/typhoon-agent-linux-x64.sha512
//   dist/typhoon-agent-linux-arm64    dist/typhoon-agent-linux-arm64.sha512
//   dist/typhoon-agent-linux-x64.raw  dist/typhoon-agent-linux-x64.raw.sha512
//   dist/typhoon-agent-linux-arm64.raw  dist/typhoon-agent-linux-arm64.raw.sha512
//
// A compiled binary is the Bun runtime with the bundled agent appended, so cross-compiling
// needs the runtime of the other architecture. Bun would download it from GitHub; there is
// no internet here, but the npm registry is reachable, so the runtime comes from the npm
// package Bun itself publishes it in (`@oven/bun-linux-*`, the version of node_modules/bun),
// checked against the integrity package-lock.json recorded, and cached. The x64 runtime
// is fetched the same way even on an x64 host, so a release never depends on the Bun that
// happens to run the build.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import bunPackage from "../node_modules/bun/package.json" with { type: "json" };
import packageLock from "../package-lock.json" with { type: "json" };
import { formatBytes } from "../agent/report/format.ts";
import { compile } from "./build.ts";
import { buildSysext } from "./sysext.ts";

const root = path.resolve(import.meta.dir, "..");
const RUNTIME_CACHE = path.join(root, "node_modules/.cache/typhoon-agent/bun-runtimes");

interface ReleaseTarget {
  /** Suffix of the release file, as in Typhoon's `arch` variable spelled the Go way. */
  arch: "x64" | "arm64";
  bunTarget: Bun.Build.CompileTarget;
  runtimePackage: string;
  /** ELF e_machine of the result: a wrong runtime must not ship under the right name. */
  elfMachine: number;
}

const TARGETS: readonly ReleaseTarget[] = [
  { arch: "x64", bunTarget: "bun-linux-x64", runtimePackage: "@oven/bun-linux-x64", elfMachine: 62 },
  { arch: "arm64", bunTarget: "bun-linux-arm64", runtimePackage: "@oven/bun-linux-aarch64", elfMachine: 183 },
];

export interface ReleaseArtifact {
  arch: ReleaseTarget["arch"];
  file: string;
  bytes: number;
  runtimeBytes: number;
  sha512: string;
  /** The systemd-sysext image of the same binary. */
  sysext: { file: string; bytes: number; sha512: string };
}

/** Writes FILE.sha512 (sha512sum -c format) and returns the hex. */
function writeChecksum(file: string): string {
  const sha512 = createHash("sha512").update(fs.readFileSync(file)).digest("hex");
  fs.writeFileSync(`${file}.sha512`, `${sha512}  ${path.basename(file)}\n`);
  return sha512;
}

/** The Bun runtime binary of `runtimePackage`, from the cache or fetched with `npm pack`. */
export function bunRuntime(runtimePackage: string): string {
  const version = bunPackage.version;
  const directory = path.join(RUNTIME_CACHE, `${runtimePackage.replace("/", "+")}-${version}`);
  const binary = path.join(directory, "bun");
  if (fs.existsSync(binary)) return binary;

  const lockEntry = (packageLock.packages as Record<string, { version?: string; integrity?: string }>)[
    `node_modules/${runtimePackage}`
  ];
  if (lockEntry?.version !== version || lockEntry.integrity === undefined) {
    throw new Error(`package-lock.json has no integrity for ${runtimePackage}@${version}: run npm install`);
  }
  const staging = fs.mkdtempSync(path.join(path.dirname(RUNTIME_CACHE), ".fetch-"));
  try {
    const pack = spawnSync("npm", ["pack", "--silent", "--pack-destination", staging, `${runtimePackage}@${version}`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 300_000,
    });
    if (pack.status !== 0) throw new Error(`npm pack ${runtimePackage}@${version} failed (exit ${pack.status})`);
    const tarball = path.join(staging, pack.stdout.trim().split("\n").pop()!);
    const [algorithm, expected] = lockEntry.integrity.split("-", 2) as [string, string];
    const actual = createHash(algorithm).update(fs.readFileSync(tarball)).digest("base64");
    if (actual !== expected) throw new Error(`${tarball} does not match the integrity in package-lock.json`);
    const untar = spawnSync("tar", ["-xzf", tarball, "-C", staging, "package/bin/bun"], { stdio: "inherit" });
    if (untar.status !== 0) throw new Error(`cannot extract bin/bun from ${tarball}`);
    fs.mkdirSync(directory, { recursive: true });
    fs.renameSync(path.join(staging, "package/bin/bun"), binary);
    return binary;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function elfMachine(file: string): number {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(file, "r");
  try {
    fs.readSync(fd, header, 0, header.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (header.toString("latin1", 0, 4) !== "\x7fELF") throw new Error(`${file} is not an ELF executable`);
  return header.readUInt16LE(18);
}

export async function buildRelease(outputDirectory = path.join(root, "dist")): Promise<ReleaseArtifact[]> {
  fs.mkdirSync(RUNTIME_CACHE, { recursive: true });
  fs.mkdirSync(outputDirectory, { recursive: true });
  const artifacts: ReleaseArtifact[] = [];
  for (const target of TARGETS) {
    const runtime = bunRuntime(target.runtimePackage);
    const name = `typhoon-agent-linux-${target.arch}`;
    const file = path.join(outputDirectory, name);
    await compile(file, { target: target.bunTarget, executablePath: runtime });
    const machine = elfMachine(file);
    if (machine !== target.elfMachine) throw new Error(`${file}: ELF machine ${machine}, expected ${target.elfMachine}`);
    const sha512 = writeChecksum(file);
    const image = `${file}.raw`;
    buildSysext(file, target.arch, image);
    const sysext = { file: image, bytes: fs.statSync(image).size, sha512: writeChecksum(image) };
    artifacts.push({ arch: target.arch, file, bytes: fs.statSync(file).size, runtimeBytes: fs.statSync(runtime).size, sha512, sysext });
  }
  return artifacts;
}

if (import.meta.main) {
  const artifacts = await buildRelease();
  console.log("file                               size      bare Bun runtime   agent on top");
  for (const artifact of artifacts) {
    const relative = path.relative(root, artifact.file);
    const overhead = artifact.bytes - artifact.runtimeBytes;
    console.log(
      `${relative.padEnd(34)} ${formatBytes(artifact.bytes).padStart(7)}   ${formatBytes(artifact.runtimeBytes).padStart(9)}` +
        `          ${formatBytes(overhead).padStart(7)} (${((overhead / artifact.runtimeBytes) * 100).toFixed(1)} %)`,
    );
  }
  for (const artifact of artifacts) {
    console.log(`${path.relative(root, artifact.sysext.file).padEnd(34)} ${formatBytes(artifact.sysext.bytes).padStart(7)}   systemd-sysext image (Flatcar)`);
  }
  console.log("checksums: dist/typhoon-agent-linux-{x64,arm64}{,.raw}.sha512 (sha512sum -c)");
}
