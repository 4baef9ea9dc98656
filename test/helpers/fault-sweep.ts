// The call sites of a run, from one strace of it: where the fault suite injects its errors.
// A run's calls of one kind are grouped by what they touch (the path, or for a file among
// many alike, such as the pki files read one after another, its directory) and by flags; a
// site is the first call of each stretch of calls with the same key, so reading the pki files
// to plan and reading them again to back up are two sites, and the forty files of one loop are
// one. strace counts calls per syscall and per tracee (`-e inject=...:when=N`), and tracing
// only the agent's main thread (no -f) makes N the same in every run of the same tree.

import { descriptorPath, opens, pathPair, type Call } from "./syscall-trace.ts";

export interface Site {
  syscall: string;
  /** The call's number among its syscall's calls in the main thread: strace's `when=`. */
  n: number;
  key: string;
  /** Its number among the calls of its syscall that are not runtime noise (see NOISE). */
  ordinal: number;
}

/**
 * Calls the runtime makes on a timer, not in the agent's order: Bun polls its memory use from
 * /proc/self/statm now and then. They are no site, and an injection whose number they shifted
 * is aimed again (realign).
 */
const NOISE = /^openat \/proc\/self\/statm /;

export function isNoise(key: string): boolean {
  return NOISE.test(key);
}

/** How many of the first `n` calls of `syscall` in `calls` are not noise. */
export function ordinalAt(calls: readonly Call[], syscall: string, n: number, root: string): number {
  return calls.filter((call) => call.name === syscall).slice(0, n).filter((call) => !isNoise(keyOf(call, root))).length;
}

/**
 * Where to aim again after an injection at `n` missed `site`: the calls before the injected
 * one are those of any run, so the site is the call with its ordinal there, or, when it had
 * not come yet, as many calls further as non-noise calls were missing.
 */
export function realign(calls: readonly Call[], site: Site, n: number, root: string): number {
  const ofSyscall = calls.filter((call) => call.name === site.syscall);
  let ordinal = 0;
  for (const [index, call] of ofSyscall.slice(0, n - 1).entries()) {
    if (!isNoise(keyOf(call, root)) && ++ordinal === site.ordinal) return index + 1;
  }
  return n + (site.ordinal - ordinalAt(calls, site.syscall, n, root));
}

/** Host directories whose files are handled in loops (assets, backups): one key for all of a directory's files. */
const LOOPED = /^(<root>\/(?:etc\/kubernetes\/pki|etc\/kubernetes\/manifests|etc\/ssl\/etcd\/etcd|opt\/bootstrap\/assets(?:\/[^/]+)*|var\/lib\/typhoon-agent\/backups))\/[^/]+$/;

/** A path with the run's own names (root, transaction ids, pids, pipes and sockets) taken out. */
export function normalizePath(path: string, root: string): string {
  const normalized = path
    .replaceAll(root, "<root>")
    .replace(/\.typhoon-agent\.\d{8}T\d{9}Z\.\d+\.(tmp|orig)$/, ".typhoon-agent.<id>.<n>.$1")
    .replace(/\d{8}T\d{9}Z/g, "<id>")
    .replace(/(\/\.[^/]+\.prom)\.\d+\.tmp$/, "$1.<pid>.tmp") // a metrics file on its way
    .replace(/^\/proc\/\d+\//, "/proc/<pid>/")
    .replace(/^(pipe|UNIX-STREAM|UNIX-DGRAM|socket):\[[\d\->]+\]$/, "$1");
  return normalized.replace(LOOPED, "$1/*");
}

/** What a call touches, normalized: its path (both, for a rename), and an open's flags. */
export function keyOf(call: Call, root: string): string {
  const open = opens([call])[0];
  if (open !== undefined) return `${call.name} ${normalizePath(open.path, root)} ${[...open.flags].filter((flag) => flag !== "O_LARGEFILE" && flag !== "O_CLOEXEC").join("|")}`;
  const pair = pathPair(call);
  if (pair !== undefined) return `${call.name} ${normalizePath(pair.from, root)} -> ${normalizePath(pair.to, root)}`;
  return `${call.name} ${normalizePath(descriptorPath(call.args[0]) ?? call.args[0] ?? "", root)}`;
}

/** Every call as a site (`every`), or the first call of each stretch of calls with one key. */
export function sitesOf(calls: readonly Call[], syscalls: readonly string[], root: string, granularity: "every call" | "each site"): Site[] {
  const counts = new Map<string, number>();
  const sites: Site[] = [];
  let previous: string | undefined;
  for (const call of calls) {
    if (!syscalls.includes(call.name)) continue;
    const n = (counts.get(call.name) ?? 0) + 1;
    counts.set(call.name, n);
    const key = keyOf(call, root);
    if (isNoise(key)) continue;
    if (granularity === "every call" || key !== previous) sites.push({ syscall: call.name, n, key, ordinal: ordinalAt(calls, call.name, n, root) });
    previous = key;
  }
  return sites;
}

/** Runs `work` over `items`, at most `parallel` at a time, in order of start. */
export async function inParallel<T, R>(items: readonly T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return results;
}
