// strace's output (`-f -yy`, one file) as a list of completed system calls, in the order they
// finished, with every descriptor followed to the path it names: what the syscall contract and
// the fault sweep read. Lines a multi-threaded tracee splits into `<unfinished ...>` and
// `<... resumed>` are joined; signals, exits and other noise are dropped.

import * as fs from "node:fs";
import { execa } from "execa";
import { recorded } from "./canary.ts";

export interface Call {
  /** Position in the trace: calls are compared by it, whichever process made them. */
  index: number;
  pid: number;
  name: string;
  /** The raw arguments, split at top-level commas. */
  args: string[];
  /** The return value (-1 on error), and the descriptor's path when it returns one. */
  ret: number;
  retPath: string | undefined;
  errno: string | undefined;
  /** strace tampered with this call (`-e inject=`). */
  injected: boolean;
}

/** `PID call...` with -f; without it (one thread traced) the line starts with the call. */
const LINE = /^(?:(\d+)\s+)?([a-z_0-9]+\(.*|<\.\.\. .*|---.*|\+\+\+.*)$/s;
const RESULT = /^(-?\d+|\?|0x[0-9a-f]+)(?:<(.*)>)?(?:\s+([A-Z][A-Z0-9_]+)\b.*)?$/s;

/** Parses strace's `-o` output. */
export function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const pending = new Map<number, string>();
  for (const raw of text.split("\n")) {
    const line = LINE.exec(raw);
    if (line === null) continue;
    const pid = Number(line[1] ?? 0);
    let rest = line[2]!;
    if (rest.startsWith("---") || rest.startsWith("+++")) continue;
    if (rest.endsWith("<unfinished ...>")) {
      pending.set(pid, rest.slice(0, -"<unfinished ...>".length).trimEnd());
      continue;
    }
    const resumed = /^<\.\.\. [a-z_0-9]+ resumed>\s?(.*)$/s.exec(rest);
    if (resumed !== null) {
      rest = `${pending.get(pid) ?? ""}${resumed[1]}`;
      pending.delete(pid);
    }
    const call = parseCall(rest, pid, calls.length);
    if (call !== undefined) calls.push(call);
  }
  return calls;
}

function parseCall(text: string, pid: number, index: number): Call | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(") = ");
  if (open < 0 || close < open || !/^[a-z_0-9]+$/.test(text.slice(0, open))) return undefined;
  let result = text.slice(close + ") = ".length).trim();
  const injected = result.endsWith("(INJECTED)");
  if (injected) result = result.slice(0, -"(INJECTED)".length).trim();
  const match = RESULT.exec(result);
  if (match === null) return undefined;
  const [, ret, retPath, errno] = match;
  return {
    index,
    pid,
    name: text.slice(0, open),
    args: splitArguments(text.slice(open + 1, close)),
    ret: ret === "?" ? Number.NaN : Number(ret),
    retPath: retPath === undefined ? undefined : stripDeviceSuffix(retPath),
    errno,
    injected,
  };
}

/** Splits at commas outside quotes, brackets, braces and `<...>` descriptor paths. */
function splitArguments(text: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (let at = 0; at < text.length; at++) {
    const character = text[at]!;
    if (quoted) {
      current += character;
      if (character === "\\") current += text[++at] ?? "";
      else if (character === '"') quoted = false;
      continue;
    }
    if (character === "-" && text[at + 1] === ">") {
      current += "->"; // a socket's peer, UNIX-STREAM:[1->2], not the end of a <path>
      at++;
      continue;
    }
    if (character === '"') quoted = true;
    else if ("[{(<".includes(character)) depth++;
    else if ("]})>".includes(character)) depth--;
    if (character === "," && depth === 0) {
      args.push(current.trim());
      current = "";
    } else {
      current += character;
    }
  }
  if (current.trim() !== "") args.push(current.trim());
  return args;
}

/** `/dev/null<char 1:3>` is /dev/null. */
function stripDeviceSuffix(path: string): string {
  return path.replace(/<(?:char|block) \d+:\d+>$/, "");
}

/** The path of a descriptor argument as `-yy` prints it (`11</etc/x>`, `AT_FDCWD</cwd>`), or undefined. */
export function descriptorPath(arg: string | undefined): string | undefined {
  const match = /^(?:-?\d+|AT_FDCWD)<(.*)>$/s.exec(arg ?? "");
  return match === null ? undefined : stripDeviceSuffix(match[1]!);
}

/** A quoted string argument, unescaped (C escapes, as strace prints them). */
export function stringArgument(arg: string | undefined): string | undefined {
  const match = /^"(.*)"(?:\.\.\.)?$/s.exec(arg ?? "");
  if (match === null) return undefined;
  return match[1]!.replace(/\\(x[0-9a-f]{2}|[0-7]{1,3}|.)/g, (_, escape: string) => {
    if (escape.startsWith("x")) return String.fromCharCode(Number.parseInt(escape.slice(1), 16));
    if (/^[0-7]+$/.test(escape)) return String.fromCharCode(Number.parseInt(escape, 8));
    return ({ n: "\n", t: "\t", r: "\r", v: "\v", f: "\f" } as Record<string, string>)[escape] ?? escape;
  });
}

/** An absolute path argument of a *at() call, resolved against its directory descriptor. */
function resolveAt(dirfd: string | undefined, pathArg: string | undefined): string | undefined {
  const path = stringArgument(pathArg);
  if (path === undefined) return undefined;
  if (path.startsWith("/")) return path;
  const base = descriptorPath(dirfd);
  return base === undefined ? undefined : `${base}/${path}`;
}

export interface OpenCall {
  call: Call;
  path: string;
  flags: Set<string>;
  /** The mode argument (only with O_CREAT or O_TMPFILE), else undefined. */
  mode: number | undefined;
}

/** open, openat and creat calls with their path, flags and mode. */
export function opens(calls: readonly Call[]): OpenCall[] {
  const found: OpenCall[] = [];
  for (const call of calls) {
    let path: string | undefined;
    let flags: string;
    let mode: string | undefined;
    if (call.name === "openat") [path, flags, mode] = [resolveAt(call.args[0], call.args[1]), call.args[2] ?? "", call.args[3]];
    else if (call.name === "open") [path, flags, mode] = [stringArgument(call.args[0]), call.args[1] ?? "", call.args[2]];
    else if (call.name === "creat") [path, flags, mode] = [stringArgument(call.args[0]), "O_WRONLY|O_CREAT|O_TRUNC", call.args[1]];
    else continue;
    if (path === undefined) continue;
    found.push({ call, path, flags: new Set(flags.split("|")), mode: mode === undefined ? undefined : Number.parseInt(mode, 8) });
  }
  return found;
}

/** Whether an open may change the file: for writing, creating or truncating. */
export function opensForWriting(open: OpenCall): boolean {
  return ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"].some((flag) => open.flags.has(flag));
}

/** Two-path calls (rename*, link*): source and destination, resolved. */
export function pathPair(call: Call): { from: string; to: string } | undefined {
  const [from, to] =
    call.name === "rename" || call.name === "link"
      ? [stringArgument(call.args[0]), stringArgument(call.args[1])]
      : call.name === "renameat" || call.name === "renameat2" || call.name === "linkat"
        ? [resolveAt(call.args[0], call.args[1]), resolveAt(call.args[2], call.args[3])]
        : [undefined, undefined];
  return from === undefined || to === undefined ? undefined : { from, to };
}

/** The path a one-path call names (unlink*, mkdir*, chmod*, chown*), resolved. */
export function pathOf(call: Call): string | undefined {
  if (["unlink", "mkdir", "chmod", "chown", "lchown", "rmdir"].includes(call.name)) return stringArgument(call.args[0]);
  if (["unlinkat", "mkdirat", "fchmodat", "fchownat"].includes(call.name)) return resolveAt(call.args[0], call.args[1]);
  return undefined;
}

export const succeeded = (call: Call): boolean => call.ret >= 0 || Number.isNaN(call.ret);

export interface TracedRun {
  calls: Call[];
  exitCode: number | undefined;
  stderr: string;
}

/**
 * Runs `command` under `strace -yy`, tracing `syscalls` (signals not shown), with `-f` (every
 * thread and child) unless `mainThreadOnly`, and `extra` strace options (`-e inject=...`, `-P`);
 * returns the parsed calls with the exit code and standard error of the command.
 */
export async function traceRun(
  log: string,
  syscalls: readonly string[],
  command: readonly string[],
  options: { env?: Record<string, string>; mainThreadOnly?: boolean; extra?: readonly string[] } = {},
): Promise<TracedRun> {
  const follow = options.mainThreadOnly === true ? [] : ["-f"];
  const strace = [...follow, "-qq", "-yy", "-s", "0", "-e", "signal=none", "-e", `trace=${syscalls.join(",")}`, ...(options.extra ?? []), "-o", log];
  const run = recorded(`${command.join(" ")} under strace`, await execa("strace", [...strace, ...command], { reject: false, env: options.env ?? {} }));
  return { calls: parseTrace(fs.readFileSync(log, "utf8")), exitCode: run.exitCode, stderr: run.stderr };
}
