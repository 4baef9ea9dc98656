// The systemd-sysext image of a release binary (Flatcar's supported way to extend its
// read-only /usr; packaging/README.md): a squashfs holding
//   usr/bin/typhoon-agent                                   the binary
//   usr/lib/systemd/system/typhoon-agent*.{service,path,timer}   the units (binary path /usr/bin)
//   usr/lib/systemd/catalog/typhoon-agent.catalog           the journal catalog
//   usr/lib/extension-release.d/extension-release.typhoon-agent
// The extension-release file says ID=_any (the binary needs only glibc, which every Typhoon
// OS has, so neither Flatcar's SYSEXT_LEVEL nor a VERSION_ID ties it to one OS release) and
// the image's ARCHITECTURE, which systemd-sysext compares with the host's. Every file is
// root-owned with a fixed mtime, so the image of one binary is the same bytes every time.
// Compressed with mksquashfs's default, gzip, which every kernel that mounts squashfs reads
// (xz would save a sixth of the size and take five times as long to build).

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SYSEXT, sysextFiles } from "../packaging/agent-files.ts";

/** systemd's architecture names (os-release(5) ARCHITECTURE=) for the release's. */
export const SYSEXT_ARCHITECTURES = { x64: "x86-64", arm64: "arm64" } as const;

export const EXTENSION_RELEASE_PATH = `/usr/lib/extension-release.d/extension-release.${SYSEXT.name}`;

export function extensionRelease(arch: keyof typeof SYSEXT_ARCHITECTURES): string {
  return `ID=_any\nARCHITECTURE=${SYSEXT_ARCHITECTURES[arch]}\n`;
}

/** Writes the image of `binary` to `image` (mksquashfs, from squashfs-tools). */
export function buildSysext(binary: string, arch: keyof typeof SYSEXT_ARCHITECTURES, image: string): void {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), "typhoon-sysext-"));
  fs.chmodSync(tree, 0o755);
  try {
    const place = (file: string, content: string | Buffer, mode: number) => {
      fs.mkdirSync(path.join(tree, path.dirname(file)), { recursive: true });
      fs.writeFileSync(path.join(tree, file), content, { mode });
      fs.chmodSync(path.join(tree, file), mode);
    };
    place(SYSEXT.binary, fs.readFileSync(binary), 0o755);
    for (const [file, content] of sysextFiles()) place(file, content, 0o644);
    place(EXTENSION_RELEASE_PATH, extensionRelease(arch), 0o644);
    fs.rmSync(image, { force: true });
    const result = spawnSync(
      "mksquashfs",
      [tree, image, "-all-root", "-noappend", "-no-progress", "-quiet", "-mkfs-time", "0", "-all-time", "0", "-no-xattrs"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 },
    );
    if (result.error !== undefined) throw new Error(`mksquashfs: ${result.error.message} (apt-get install squashfs-tools)`);
    if (result.status !== 0) throw new Error(`mksquashfs exited ${result.status}: ${result.stderr}`);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
}
