// `npm run demo`: a sample controller bundle (the 44 assets Terraform renders today, fresh
// test PKI) applied by the compiled agent to ./demo-root, a scratch host tree: the plan,
// the apply (with the journal entries it would send), the installed tree with owners and
// modes, verify's certificate table, and a second apply that changes nothing.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeSampleAssets, terraformBundle } from "./make-bundle.ts";
import { makeHostTree } from "./sample-host.ts";

const repo = path.resolve(import.meta.dir, "..");
const agent = path.resolve(repo, process.env.TYPHOON_AGENT_BIN ?? "dist/typhoon-agent");
const root = path.join(repo, "demo-root");
const bundle = path.join(root, "home/core/assets");
const shown = (file: string): string => path.relative(process.cwd(), file) || ".";

if (process.getuid?.() !== 0) {
  console.error("npm run demo needs root: the agent gives the etcd TLS files to the etcd user and pod secrets to uid 65534.");
  process.exit(1);
}

fs.rmSync(root, { recursive: true, force: true });
makeHostTree(root);
const assets = await makeSampleAssets();
fs.writeFileSync(bundle, terraformBundle(assets), { mode: 0o600 });
console.log(`A scratch controller in ${shown(root)}/ with the bundle Terraform would copy: ${shown(bundle)} (${assets.size} assets, fresh test PKI).\n`);

/** Runs the agent; without a journal socket its journal entries arrive on stderr, shortened here. */
function run(args: string[], options: { showEvents?: boolean } = {}): void {
  console.log(`$ typhoon-agent ${args.join(" ")}`);
  const result = spawnSync(agent, args, { encoding: "utf8", env: { ...process.env, TYPHOON_AGENT_JOURNAL: "stderr" } });
  process.stdout.write(result.stdout);
  const lines = result.stderr.split("\n").filter(Boolean);
  const events = lines.filter((line) => /^<\d>/.test(line));
  if (options.showEvents && events.length > 0) {
    console.log(`  journal entries (stderr without a journal socket), ${events.length} in all:`);
    for (const line of [...events.slice(0, 3), "...", ...events.slice(-2)]) console.log(`    ${line.length > 150 ? `${line.slice(0, 147)}...` : line}`);
  }
  for (const line of lines.filter((line) => !/^<\d>/.test(line))) console.log(line);
  console.log("");
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function printTree(top: string): void {
  const names = new Map<number, string>([[0, "root"], [232, "etcd"], [65534, "nobody"]]);
  const walk = (relative: string): void => {
    const stat = fs.lstatSync(path.join(root, relative));
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, "0");
    const owner = `${names.get(stat.uid) ?? stat.uid}:${names.get(stat.gid) ?? stat.gid}`;
    console.log(`  ${mode}  ${owner.padEnd(13)} ${String(stat.isDirectory() ? "" : stat.size).padStart(6)}  /${relative}${stat.isDirectory() ? "/" : ""}`);
    if (stat.isDirectory()) for (const child of fs.readdirSync(path.join(root, relative)).sort()) walk(path.join(relative, child));
  };
  walk(top);
}

run(["plan", shown(bundle), "--root", shown(root)]);
run(["apply", shown(bundle), "--root", shown(root), "--keep-bundle"], { showEvents: true });
console.log("The installed tree (mode, owner, bytes, path):");
for (const top of ["etc/ssl/etcd", "etc/kubernetes", "opt/bootstrap/assets", "etc/systemd/system/kubelet.service"]) printTree(top);
console.log("");
run(["verify", "--root", shown(root)]);
run(["apply", shown(bundle), "--root", shown(root)]);
console.log(`The bundle was consumed by that apply; the result of the last run is ${shown(root)}/var/lib/typhoon-agent/result.json.`);
