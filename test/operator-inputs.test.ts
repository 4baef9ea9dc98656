// Operator inputs that look right and are not: a bundle saved with a byte order mark, a
// floating kubelet image, a cluster DNS address no server can answer on, a bundle named
// through a symlink. Each class is generated, run through the compiled binary, and what the
// operator sees is asserted: the files, the message naming the input, the exit code.

import { execa } from "execa";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { terraformBundle } from "../scripts/make-bundle.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { expectCleanFailure } from "./helpers/operator.ts";
import { randomAssetMap } from "./helpers/random-bundle.ts";
import { runSeed, seededRandom } from "./helpers/random.ts";
import { readFiles, tempDir } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
const rootTest = isRoot ? test : test.skip;
const QUIET = { env: { TYPHOON_AGENT_JOURNAL: "stderr" } };
const ONE_LINER = "/#####/ {filename=$2; next} {print > filename}";
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const seed = runSeed();
console.log(`operator-inputs seed ${seed} (replay with TEST_SEED=${seed})`);

async function runAwk(awk: string, bundlePath: string, names: Iterable<string>, directory: string): Promise<void> {
  for (const name of names) fs.mkdirSync(path.dirname(path.join(directory, name)), { recursive: true });
  await execa(awk, [ONE_LINER, bundlePath], { cwd: directory, env: { LC_ALL: "C" } });
}

describe("a byte order mark", () => {
  test("a UTF-8 BOM before the first header is what awk ignores: unpack and --awk write what gawk and mawk write", async () => {
    const random = seededRandom(seed);
    for (let i = 0; i < 20; i++) {
      const assets = randomAssetMap(random);
      const work = tempDir();
      const plain = path.join(work, "plain");
      const marked = path.join(work, "marked");
      fs.writeFileSync(plain, terraformBundle(assets));
      fs.writeFileSync(marked, Buffer.concat([UTF8_BOM, fs.readFileSync(plain)]));
      for (const mode of [[], ["--awk"]]) {
        const without = await runAgent(["unpack", plain, "-C", path.join(work, `out-plain${mode.join("")}`), ...mode]);
        const withBom = await runAgent(["unpack", marked, "-C", path.join(work, `out-marked${mode.join("")}`), ...mode]);
        expect(withBom.exitCode, `bundle ${i} of seed ${seed} ${mode.join("")}: ${String(withBom.stderr)}`).toBe(0);
        expect(readFiles(path.join(work, `out-marked${mode.join("")}`))).toEqual(readFiles(path.join(work, `out-plain${mode.join("")}`)));
        expect(without.exitCode).toBe(0);
      }
      for (const awk of ["gawk", "mawk"]) {
        await runAwk(awk, marked, assets.keys(), path.join(work, awk));
        expect(readFiles(path.join(work, awk)), `${awk}, bundle ${i} of seed ${seed}`).toEqual(readFiles(path.join(work, "out-marked--awk")));
      }
      fs.rmSync(work, { recursive: true });
    }
  }, 120_000);

  rootTest("apply and plan take a bundle saved with a UTF-8 BOM as the same bundle (the digest is of the file as given)", async () => {
    const root = makeHost();
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    fs.writeFileSync(bundle, Buffer.concat([UTF8_BOM, fs.readFileSync(bundle)]));
    const digest = new Bun.CryptoHasher("sha256").update(fs.readFileSync(bundle)).digest("hex");
    const plan = await runAgent(["plan", bundle, "--root", root], QUIET);
    expect(plan.exitCode, String(plan.stderr)).toBe(0);
    const apply = await runAgent(["apply", bundle, "--root", root, "--no-start", "--json", "--expect-sha256", digest], QUIET);
    expect(apply.exitCode, String(apply.stderr)).toBe(0);
    expect(fs.existsSync(`${root}/etc/kubernetes/pki/ca.crt`)).toBe(true);
  });

  const misplaced: Array<[string, (bundle: Buffer) => Buffer, RegExp]> = [
    ["UTF-16LE with its BOM", (b) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(b.toString("latin1"), "utf16le")]), /line 1: the bundle is UTF-16 .*\n.*hint: .*iconv -f UTF-16 -t UTF-8/],
    ["UTF-16BE with its BOM", (b) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(b.toString("latin1"), "utf16le").swap16()]), /line 1: the bundle is UTF-16 .*\n.*hint: .*iconv -f UTF-16 -t UTF-8/],
    ["a UTF-8 BOM before a later header (two files joined)", (b) => Buffer.concat([b, Buffer.from("\n"), UTF8_BOM, Buffer.from("##### zz/late\nx\n")]), /line \d+: a byte order mark \(U\+FEFF\) before the header marker/],
  ];
  test.each(misplaced)("%s: exit 65 naming the line and the encoding, nothing written", async (_label, damage, message) => {
    const work = tempDir();
    const bundle = path.join(work, "assets");
    fs.writeFileSync(bundle, damage(terraformBundle(randomAssetMap(seededRandom(seed)))));
    const result = await runAgent(["unpack", bundle, "-C", path.join(work, "out")]);
    expectCleanFailure(result, _label);
    expect(result.exitCode).toBe(65);
    expect(String(result.stderr)).toMatch(message);
    expect(fs.existsSync(path.join(work, "out"))).toBe(false);
  });
});

const FLOATING_TAGS = ["", ":latest", ":LATEST", ":stable", ":edge", ":nightly", ":main", ":master"];
const REPOSITORIES = ["quay.io/poseidon/kubelet", "localhost:5000/kubelet", "kubelet"];

describe("kubelet_image", () => {
  const cases = REPOSITORIES.flatMap((repository) => FLOATING_TAGS.map((tag) => `${repository}${tag}`));
  test.each(cases)("%s floats: exit 78 naming the key and where it came from, from a flag and from agent.yaml", async (image) => {
    const flag = await runAgent(["render", "config", "--kubelet-image", image, "--kubelet-version", "1.36"]);
    expect(flag.exitCode, String(flag.stderr)).toBe(78);
    expect(String(flag.stderr)).toMatch(/^typhoon-agent: kubelet_image: .*(floating|no tag).*\(from --kubelet-image\)\n.*hint: pin .*@sha256:/);
    const config = path.join(tempDir(), "agent.yaml");
    fs.writeFileSync(config, `kubelet_image: "${image}"\nkubelet_version: "1.36"\n`);
    const file = await runAgent(["render", "config", "--config", config]);
    expect(file.exitCode, String(file.stderr)).toBe(78);
    expect(String(file.stderr)).toContain(`(in ${config})`);
  });

  const digest = `@sha256:${"0123456789abcdef".repeat(4)}`;
  test.each([...REPOSITORIES.map((repository) => `${repository}${digest}`), ...FLOATING_TAGS.filter(Boolean).map((tag) => `quay.io/poseidon/kubelet${tag}${digest}`), "quay.io/poseidon/kubelet:v1.36.1"])(
    "%s is pinned: accepted",
    async (image) => {
      const result = await runAgent(["render", "config", "--kubelet-image", image, "--kubelet-version", "1.36"]);
      expect(result.exitCode, String(result.stderr)).toBe(0);
    },
  );
});

/** Addresses no cluster DNS Service can have, by class: the first, the last and one inside each. */
const UNUSABLE_DNS: Record<string, string[]> = {
  unspecified: ["0.0.0.0", "0.1.2.3", "0.255.255.255", "::", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0"],
  loopback: ["127.0.0.1", "127.0.0.0", "127.255.255.255", "127.3.0.10", "::1", "::ffff:127.0.0.1"],
  multicast: ["224.0.0.1", "224.0.0.0", "239.255.255.255", "230.3.0.10", "ff02::1", "ff00::", "FF05::1:3"],
  broadcast: ["255.255.255.255", "::ffff:255.255.255.255"],
  reserved: ["240.0.0.0", "250.3.0.10", "255.255.255.254"],
  "link-local": ["fe80::1", "fe80::1:2:3:4:5", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
};
const USABLE_DNS = ["10.3.0.10", "172.16.0.10", "192.168.0.10", "1.0.0.0", "223.255.255.255", "169.254.20.10", "fd00::a", "2001:db8::a", "fec0::1", "::ffff:10.3.0.10"];

describe("cluster_dns_service_ip", () => {
  const cases = Object.entries(UNUSABLE_DNS).flatMap(([kind, addresses]) => addresses.map((address) => [kind, address] as const));
  test.each(cases)("%s %s: exit 78 naming the key, the class and where it came from", async (kind, address) => {
    const result = await runAgent(["render", "config", "--cluster-dns-service-ip", address]);
    expect(result.exitCode, String(result.stderr)).toBe(78);
    expect(String(result.stderr)).toContain(`typhoon-agent: cluster_dns_service_ip: "${address}" is ${kind === "unspecified" || kind === "reserved" ? "" : "a "}`);
    expect(String(result.stderr)).toContain(kind);
    expect(String(result.stderr)).toContain("(from --cluster-dns-service-ip)");
  });

  test.each(USABLE_DNS)("%s is usable: accepted", async (address) => {
    const result = await runAgent(["render", "config", "--cluster-dns-service-ip", address]);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(String(result.stdout)).toContain(address);
  });
});

/** Every spelling of the IPv4-mapped address ::ffff:a.b.c.d: dotted, hex hextets short and padded, any case. */
function mappedForms(v4: string): string[] {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split(".").map(Number);
  const high = ((a << 8) | b).toString(16);
  const low = ((c << 8) | d).toString(16);
  return [
    `::ffff:${high}:${low}`,
    `::FFFF:${high.toUpperCase()}:${low.toUpperCase()}`,
    `0:0:0:0:0:ffff:${high}:${low}`,
    `0000:0000:0000:0000:0000:ffff:${high.padStart(4, "0")}:${low.padStart(4, "0")}`,
    `0::ffff:${v4}`,
    `0:0:0:0:0:ffff:${v4}`,
  ];
}

describe("cluster_dns_service_ip written as an IPv4-mapped IPv6 address: judged by its IPv4 part, in every spelling", () => {
  const ipv4 = (address: string) => /^\d+\.\d+\.\d+\.\d+$/.test(address);
  const unusable = Object.entries(UNUSABLE_DNS).flatMap(([kind, addresses]) => addresses.filter(ipv4).flatMap((v4) => mappedForms(v4).map((form) => [kind, form] as const)));
  test.each(unusable)("%s %s: exit 78", async (kind, address) => {
    const result = await runAgent(["render", "config", "--cluster-dns-service-ip", address]);
    expect(result.exitCode, String(result.stderr)).toBe(78);
    expect(String(result.stderr)).toContain(`cluster_dns_service_ip: "${address}" is `);
    expect(String(result.stderr)).toContain(kind);
  });

  test.each(USABLE_DNS.filter(ipv4).flatMap(mappedForms))("%s: accepted", async (address) => {
    const result = await runAgent(["render", "config", "--cluster-dns-service-ip", address]);
    expect(result.exitCode, String(result.stderr)).toBe(0);
  });
});

describe("a bundle named through a link", () => {
  rootTest("a symlinked bundle: installed, link and target kept, a warning naming both and how to remove them", async () => {
    const root = makeHost();
    const target = `${root}/srv/staged/assets`;
    await writeSampleBundle(target);
    const link = `${root}/home/core/assets`;
    fs.symlinkSync(target, link);
    const apply = await runAgent(["apply", link, "--root", root, "--no-start"], QUIET);
    expect(apply.exitCode, String(apply.stderr)).toBe(0);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.existsSync(target)).toBe(true);
    const warning = `the bundle ${link} is a symbolic link to ${target}; the agent removes no file through a link, so both were kept: they hold every secret of the cluster, remove them by hand (rm -- ${target} ${link})`;
    expect(String(apply.stderr)).toContain(`warning: ${warning}`);
    const result = JSON.parse(fs.readFileSync(`${root}/var/lib/typhoon-agent/result.json`, "utf8")) as { warnings: string[] };
    expect(result.warnings).toContain(warning);
    fs.rmSync(target); // as the warning says (and the secret canary checks that nothing else kept it)
    fs.rmSync(link);
  });

  rootTest("a bundle in a linked directory (Fedora CoreOS's /home is var/home) is removed; one with another hard link is removed with a warning", async () => {
    const root = makeHost();
    fs.mkdirSync(`${root}/var/home/core`, { recursive: true });
    fs.rmSync(`${root}/home`, { recursive: true, force: true });
    fs.symlinkSync("var/home", `${root}/home`);
    const bundle = `${root}/home/core/assets`;
    await writeSampleBundle(bundle);
    const linkedDirectory = await runAgent(["apply", bundle, "--root", root, "--no-start"], QUIET);
    expect(linkedDirectory.exitCode, String(linkedDirectory.stderr)).toBe(0);
    expect(fs.existsSync(`${root}/var/home/core/assets`)).toBe(false);

    await writeSampleBundle(bundle);
    fs.linkSync(bundle, `${root}/var/home/core/assets.copy`);
    const hardLinked = await runAgent(["apply", bundle, "--root", root, "--no-start"], QUIET);
    expect(hardLinked.exitCode, String(hardLinked.stderr)).toBe(0);
    expect(fs.existsSync(bundle)).toBe(false);
    fs.rmSync(`${root}/var/home/core/assets.copy`);
    expect(String(hardLinked.stderr)).toMatch(new RegExp(`warning: the bundle ${bundle} had 1 other hard link \\(inode (\\d+)\\); the secrets stay readable through it: find / -inum \\1`));
  });
});
