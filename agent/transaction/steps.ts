// The four kinds of step a transaction is made of (mkdir, write, remove, chmod): how each is
// built, and in OPERATIONS what each does in the prepare and commit phases and how each is
// taken back. transaction.ts runs them; record.ts keeps them, without content, for recovery.

import * as fs from "node:fs";
import * as path from "node:path";
import { attempt } from "../errors.ts";
import type { Ownership } from "../fsio/ownership.ts";
import { removeIfPresent } from "../fsio/read-only.ts";
import { CREATE_NEW, writeAll } from "../fsio/write-all.ts";
import type { RealPath } from "../hostfs/host-root.ts";
import type { SiblingNames } from "./names.ts";

type WriteShape<P> = { kind: "write"; target: P; temp: P; undo: P | undefined; mtimeMs?: number } & Ownership;

/** A step without file contents, on real paths (`P`), or on host paths as the record keeps it. */
export type RecordedStep<P extends string = RealPath> =
  | ({ kind: "mkdir"; target: P } & Ownership)
  | WriteShape<P>
  | { kind: "remove"; target: P; undo: P }
  | ({ kind: "chmod"; target: P; previous: Ownership } & Ownership);

export type Step = Exclude<RecordedStep, WriteShape<RealPath>> | (WriteShape<RealPath> & { content: Buffer });

export function mkdirStep(target: RealPath, ownership: Ownership): Step {
  const { uid, gid, mode } = ownership;
  return { kind: "mkdir", target, uid, gid, mode };
}

/** Writes `content` as `target`; `replacing` keeps the old file under an undo name. */
export function writeStep(names: SiblingNames, target: RealPath, content: Buffer, ownership: Ownership, options: { replacing: boolean; mtimeMs?: number }): Step {
  const { temp, undo } = names.next(target);
  const { uid, gid, mode } = ownership;
  return { kind: "write", target, temp, undo: options.replacing ? undo : undefined, content, uid, gid, mode, ...(options.mtimeMs === undefined ? {} : { mtimeMs: options.mtimeMs }) };
}

/** Moves `target` (a file or a whole directory) to an undo name; finishing the transaction deletes it. */
export function removeStep(names: SiblingNames, target: RealPath): Step {
  return { kind: "remove", target, undo: names.next(target).undo };
}

export function chmodStep(target: RealPath, ownership: Ownership, previous: Ownership): Step {
  const { uid, gid, mode } = ownership;
  return { kind: "chmod", target, uid, gid, mode, previous: { uid: previous.uid, gid: previous.gid, mode: previous.mode } };
}

/** What each kind of step does in each phase, and to take each phase back. */
interface Operations<K extends Step["kind"]> {
  prepare(step: Extract<Step, { kind: K }>): void;
  commit(step: Extract<RecordedStep, { kind: K }>): void;
  undoCommitted(step: Extract<RecordedStep, { kind: K }>): void;
  undoPrepared(step: Extract<RecordedStep, { kind: K }>): void;
}

const nothing = (): void => {};

const OPERATIONS: { [K in Step["kind"]]: Operations<K> } = {
  mkdir: {
    prepare: (step) =>
      attempt("create directory", step.target, () => {
        fs.mkdirSync(step.target, { mode: step.mode });
        fs.chownSync(step.target, step.uid, step.gid);
        fs.chmodSync(step.target, step.mode);
      }),
    commit: nothing,
    undoCommitted: nothing,
    undoPrepared: (step) => {
      if (fs.existsSync(step.target) && fs.readdirSync(step.target).length === 0) fs.rmdirSync(step.target);
    },
  },
  write: {
    prepare: (step) => {
      writeTemp(step);
      if (step.undo !== undefined) attempt("link", step.target, () => fs.linkSync(step.target, step.undo!));
    },
    commit: (step) => attempt("rename into place", step.target, () => fs.renameSync(step.temp, step.target)),
    undoCommitted: (step) => (step.undo === undefined ? removeIfPresent(step.target) : fs.renameSync(step.undo, step.target)),
    undoPrepared: (step) => {
      removeIfPresent(step.temp);
      if (step.undo !== undefined) removeIfPresent(step.undo);
    },
  },
  remove: {
    prepare: nothing,
    commit: (step) => attempt("move aside", step.target, () => fs.renameSync(step.target, step.undo)),
    undoCommitted: (step) => fs.renameSync(step.undo, step.target),
    undoPrepared: nothing,
  },
  chmod: {
    prepare: nothing,
    commit: (step) =>
      attempt("set owner and mode of", step.target, () => {
        fs.chownSync(step.target, step.uid, step.gid);
        fs.chmodSync(step.target, step.mode);
      }),
    undoCommitted: (step) => {
      fs.chownSync(step.target, step.previous.uid, step.previous.gid);
      fs.chmodSync(step.target, step.previous.mode);
    },
    undoPrepared: nothing,
  },
};

/** The operations of `step`'s kind (one cast: TypeScript cannot correlate a union with a mapped type's key). */
function operationsOf(step: RecordedStep): Operations<RecordedStep["kind"]> {
  return OPERATIONS[step.kind] as unknown as Operations<RecordedStep["kind"]>;
}

export const prepareStep = (step: Step): void => operationsOf(step).prepare(step);
export const commitStep = (step: RecordedStep): void => operationsOf(step).commit(step);
export const undoCommittedStep = (step: RecordedStep): void => operationsOf(step).undoCommitted(step);
export const undoPreparedStep = (step: RecordedStep): void => operationsOf(step).undoPrepared(step);

/**
 * The new file is created exclusively, never through a link, with at most its final
 * permissions (umask only removes bits), given to its owner, then set to its exact mode,
 * all before the first byte of content: a secret is never readable by anyone else.
 */
function writeTemp(step: Extract<Step, { kind: "write" }>): void {
  // Named by its target: the temp file's name means nothing to an operator.
  attempt("write", step.target, () => {
    const fd = fs.openSync(step.temp, CREATE_NEW, step.mode);
    try {
      fs.fchownSync(fd, step.uid, step.gid);
      fs.fchmodSync(fd, step.mode);
      writeAll(fd, step.content);
      if (step.mtimeMs !== undefined) fs.futimesSync(fd, new Date(), new Date(step.mtimeMs));
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** The directory a step changes: its own for mkdir and chmod, the parent of its entry otherwise. */
export function directoryOf(step: RecordedStep): string {
  return step.kind === "mkdir" || step.kind === "chmod" ? step.target : path.dirname(step.target);
}
