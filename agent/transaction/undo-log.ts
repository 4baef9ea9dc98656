// The undo log apply, rollback and unpack share: each change that is made records how to
// take it back, and a failure takes back everything, newest first. What differs is what is
// left when taking back fails too. A transaction has its durable record, from which the
// next run finishes the job, so it stops at the first failed undo and leaves the rest as
// the record describes it; unpack has no record, so it takes back all it can and names what
// it could not (docs/design.md, "One undo log, two users").

export interface UndoFailure {
  /** What the undo would have done ("move DIR/.../1 back to DIR/a"). */
  what: string;
  error: unknown;
}

export class UndoLog {
  private readonly entries: Array<{ what: string; undo: () => void }> = [];

  /** Records how to take back a change; call it before a change that may fail half-way, after one that cannot. */
  add(what: string, undo: () => void): void {
    this.entries.push({ what, undo });
  }

  /**
   * Takes everything back, newest first. `stopAtFirstFailure`: stop there (the rest stays as
   * it is for a record to finish); otherwise go on past failures. Returns what failed.
   */
  undo(options: { stopAtFirstFailure: boolean }): UndoFailure[] {
    const failures: UndoFailure[] = [];
    while (this.entries.length > 0) {
      const entry = this.entries.pop()!;
      try {
        entry.undo();
      } catch (error) {
        failures.push({ what: entry.what, error });
        if (options.stopAtFirstFailure) break;
      }
    }
    return failures;
  }
}
