// Users and groups of the host, read from its files under the root: /etc/passwd and, on
// Fedora CoreOS, /usr/lib/passwd where system users such as etcd live (altfiles NSS).
// Never from the machine running the tests, so --root trees behave like the real host.

import { AgentError, ExitCode } from "../errors.ts";
import { ROOT, type Owner } from "../fsio/ownership.ts";
import { readTextIfExists } from "../fsio/read-only.ts";
import type { HostRoot } from "./host-root.ts";

const PASSWD_FILES = ["/etc/passwd", "/usr/lib/passwd"];
const GROUP_FILES = ["/etc/group", "/usr/lib/group"];

export class Accounts {
  private readonly host: HostRoot;
  private users: Map<string, Owner> | undefined;
  private groups: Map<string, number> | undefined;

  constructor(host: HostRoot) {
    this.host = host;
  }

  /** uid and primary gid of `name`; exit 67 naming the files searched when it is missing. */
  user(name: string): Owner {
    this.users ??= readTable(
      this.host,
      PASSWD_FILES,
      (fields) => (fields.length >= 4 ? { uid: Number(fields[2]), gid: Number(fields[3]) } : undefined),
      ROOT,
    );
    const account = this.users.get(name);
    if (account === undefined || !Number.isInteger(account.uid) || !Number.isInteger(account.gid)) {
      throw new AgentError(
        ExitCode.noUser,
        `no such user: ${name} (looked in ${PASSWD_FILES.join(" and ")} under ${this.host.root})`,
        name === "etcd" ? "the etcd TLS files belong to the etcd user; create it or set etcd_user in /etc/typhoon/agent.yaml" : undefined,
      );
    }
    return account;
  }

  /** gid of group `name`, or undefined when the host has no such group. */
  group(name: string): number | undefined {
    this.groups ??= readTable(this.host, GROUP_FILES, (fields) => (fields.length >= 3 ? Number(fields[2]) : undefined), 0);
    return this.groups.get(name);
  }

  /** "etcd:etcd", "nobody:root", "1000:1000": an owner as people read it. */
  ownerName(uid: number, gid: number): string {
    return `${this.nameOfUid(uid)}:${this.nameOfGid(gid)}`;
  }

  /** "etcd" for 232, else the number: how owners are shown to people. */
  nameOfUid(uid: number): string {
    this.user("root");
    for (const [name, account] of this.users!) if (account.uid === uid) return name;
    return String(uid);
  }

  nameOfGid(gid: number): string {
    this.group("root");
    for (const [name, id] of this.groups!) if (id === gid) return name;
    return String(gid);
  }
}

/**
 * name → entry from colon-separated files; the first file naming an entry wins, like NSS.
 * root always exists, even in a --root tree without a passwd file.
 */
function readTable<T>(host: HostRoot, files: readonly string[], parse: (fields: string[]) => T | undefined, root: T): Map<string, T> {
  const table = new Map<string, T>();
  for (const file of files) {
    // /usr/lib/passwd exists only on some hosts; one that cannot be read is an error, not an empty table.
    const text = readTextIfExists(host.readable(file), "read", file);
    if (text === undefined) continue;
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const fields = line.split(":");
      const name = fields[0]!;
      const entry = parse(fields);
      if (entry !== undefined && !table.has(name)) table.set(name, entry);
    }
  }
  if (!table.has("root")) table.set("root", root);
  return table;
}
