// Upstream's layout script (the /opt/bootstrap/layout file of Typhoon's Fedora CoreOS
// controller config), taken from the fixture and re-rooted so it can run on a scratch tree
// next to the agent: absolute /etc and /opt paths move under $ROOT, the etcd owner is
// numeric (the scratch host's passwd is not the machine's), and chcon goes (no SELinux
// here; on a real host it costs one more process). Everything else runs as upstream wrote it.

import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { ETCD_UID } from "../sample-host.ts";

const CONTROLLER_CONFIG = path.resolve(import.meta.dir, "../../test/fixtures/upstream/typhoon/head/fedora-coreos-controller.yaml");

export function reRootedLayoutScript(): string {
  const butane = load(fs.readFileSync(CONTROLLER_CONFIG, "utf8")) as { storage: { files: Array<{ path: string; contents?: { inline?: string } }> } };
  const layout = butane.storage.files.find((file) => file.path === "/opt/bootstrap/layout")?.contents?.inline;
  if (layout === undefined) throw new Error(`no /opt/bootstrap/layout in ${CONTROLLER_CONFIG}`);
  return layout
    .split("\n")
    .filter((line) => !line.startsWith("chcon "))
    .map((line) => line.replace(/(^|\s)\/(etc|opt)\//g, '$1"$ROOT"/$2/').replace("etcd:etcd", `${ETCD_UID}:${ETCD_UID}`))
    .join("\n");
}
