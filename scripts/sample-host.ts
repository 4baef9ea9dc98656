// A scratch host tree for --root: the files a Fedora CoreOS or Flatcar controller has that
// the agent reads (passwd, group, os-release), nothing else. Used by tests and benchmarks.

import * as fs from "node:fs";
import * as path from "node:path";

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

/** Writes the skeleton of a controller into `root` (which may exist) and returns it. */
export function makeHostTree(root: string, options: HostOptions = {}): string {
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

