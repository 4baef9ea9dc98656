// The systemd-sysext image `npm run build:release` makes for Flatcar, built here from the
// binary npm test built and read back with the real unsquashfs: exactly the binary, the
// units and the catalog under /usr, root-owned, with the extension-release file
// systemd-sysext matches. test/boot.test.ts merges it at boot with the real systemd-sysext.

import { execa } from "execa";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { SYSEXT, sysextFiles } from "../packaging/agent-files.ts";
import { buildSysext, EXTENSION_RELEASE_PATH, extensionRelease } from "../scripts/sysext.ts";
import { AGENT } from "./helpers/agent-binary.ts";
import { tempDir } from "./helpers/tree.ts";

const sha512 = (bytes: Buffer | string): string => createHash("sha512").update(bytes).digest("hex");

describe("the systemd-sysext image", () => {
  let image: string;
  let extracted: string;
  const cat = async (file: string): Promise<Buffer> => fs.readFileSync(path.join(extracted, file));

  beforeAll(async () => {
    image = path.join(tempDir("typhoon-sysext-test-"), `${SYSEXT.name}.raw`);
    buildSysext(AGENT, "x64", image);
    extracted = path.join(path.dirname(image), "extracted");
    await execa("unsquashfs", ["-no-progress", "-d", extracted, image]);
  }, 120_000);

  test("holds the binary, the units, the catalog and the extension-release file under /usr, nothing else, all root's", async () => {
    const listing = await execa("unsquashfs", ["-lls", image]);
    const entries = listing.stdout
      .split("\n")
      .filter((line) => / squashfs-root/.test(line))
      .map((line) => {
        const [mode, owner, , , , file] = line.split(/\s+/) as [string, string, string, string, string, string];
        return { mode, owner, file: file.slice("squashfs-root".length) || "/" };
      });
    const files = entries.filter((entry) => entry.mode.startsWith("-"));
    expect(files.map((entry) => entry.file).sort()).toEqual([SYSEXT.binary, EXTENSION_RELEASE_PATH, ...sysextFiles().keys()].sort());
    expect(entries.every((entry) => entry.owner === "root/root")).toBe(true);
    expect(entries.every((entry) => entry.file === "/" || entry.file === "/usr" || entry.file.startsWith("/usr/"))).toBe(true);
    expect(files.find((entry) => entry.file === SYSEXT.binary)!.mode).toBe("-rwxr-xr-x");
    for (const entry of files.filter((candidate) => candidate.file !== SYSEXT.binary)) expect(entry.mode, entry.file).toBe("-rw-r--r--");
  });

  test("the binary is the release binary, byte for byte, and the units run it from /usr/bin", async () => {
    expect(sha512(await cat(SYSEXT.binary))).toBe(sha512(fs.readFileSync(AGENT)));
    for (const [file, content] of sysextFiles()) {
      expect((await cat(file)).toString("utf8"), file).toBe(content);
      if (file.endsWith(".service")) expect(content).toContain(`ExecStart=${SYSEXT.binary} `);
    }
  });

  test("extension-release: any OS (ID=_any), this architecture, named after the image", async () => {
    expect(EXTENSION_RELEASE_PATH).toBe(`/usr/lib/extension-release.d/extension-release.${path.basename(SYSEXT.path, ".raw")}`);
    expect((await cat(EXTENSION_RELEASE_PATH)).toString("utf8")).toBe("ID=_any\nARCHITECTURE=x86-64\n");
    expect(extensionRelease("arm64")).toBe("ID=_any\nARCHITECTURE=arm64\n");
  });

  test("the same binary makes the same image, byte for byte", () => {
    const again = path.join(path.dirname(image), "again.raw");
    buildSysext(AGENT, "x64", again);
    expect(sha512(fs.readFileSync(again))).toBe(sha512(fs.readFileSync(image)));
  }, 120_000);
});
