// Scratch host trees for --root: the files a Fedora CoreOS or Flatcar controller has that
// the agent reads (passwd, group, os-release), nothing else.

import * as fs from "node:fs";
import * as path from "node:path";
import { makeSampleAssets, terraformBundle, type SampleOptions } from "../../scripts/make-bundle.ts";
import { makeClusterPki } from "../../scripts/pki.ts";
import { tempDir } from "./tree.ts";

export const ETCD_UID = 232;
export const NOBODY_UID = 65534;

export interface HostOptions {
  /** Where the etcd user is defined: /etc/passwd (Flatcar), /usr/lib/passwd (Fedora CoreOS), or nowhere. */
  etcdUser?: "etc" | "usr-lib" | "missing";
  osRelease?: "fedora-coreos" | "flatcar" | "container-linux";
}

const OS_RELEASE = {
  "fedora-coreos": 'NAME="Fedora Linux"\nID=fedora\nVARIANT_ID=coreos\nVERSION_ID=41\n',
  flatcar: 'NAME="Flatcar Container Linux by Kinvolk"\nID=flatcar\nID_LIKE=coreos\nVERSION_ID=4081.2.0\n',
  "container-linux": 'NAME="Container Linux by CoreOS"\nID=coreos\nVERSION_ID=2303.3.0\n',
};

export function makeHost(options: HostOptions = {}): string {
  const root = tempDir("typhoon-root-");
  const write = (file: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  const etcdLine = `etcd:x:${ETCD_UID}:${ETCD_UID}:etcd user:/var/lib/etcd:/sbin/nologin\n`;
  const base = `root:x:0:0:root:/root:/bin/bash\ncore:x:1000:1000:CoreOS Admin:/home/core:/bin/bash\nnobody:x:${NOBODY_UID}:${NOBODY_UID}:Kernel Overflow User:/:/sbin/nologin\n`;
  write("etc/passwd", base + (options.etcdUser === undefined || options.etcdUser === "etc" ? etcdLine : ""));
  write("etc/group", `root:x:0:\ncore:x:1000:\nnobody:x:${NOBODY_UID}:\n`);
  if (options.etcdUser === "usr-lib") {
    write("usr/lib/passwd", etcdLine);
    write("usr/lib/group", `etcd:x:${ETCD_UID}:\n`);
  } else if (options.etcdUser !== "missing") {
    fs.appendFileSync(path.join(root, "etc/group"), `etcd:x:${ETCD_UID}:\n`);
  }
  write("etc/os-release", OS_RELEASE[options.osRelease ?? "fedora-coreos"]);
  fs.mkdirSync(path.join(root, "home/core"), { recursive: true });
  return root;
}

let sharedPki: Promise<Map<string, string>> | undefined;

/** The sample controller bundle; PKI is generated once per test file (it takes ~0.5 s). */
export async function sampleAssets(options: Omit<SampleOptions, "pki"> & { freshPki?: boolean } = {}): Promise<Map<string, string>> {
  const { freshPki, ...rest } = options;
  const pki = freshPki ? await makeClusterPki() : await (sharedPki ??= makeClusterPki());
  return makeSampleAssets({ ...rest, pki });
}

export async function writeSampleBundle(file: string, options: Parameters<typeof sampleAssets>[0] = {}): Promise<Map<string, string>> {
  const assets = await sampleAssets(options);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, terraformBundle(assets), { mode: 0o600 });
  return assets;
}
