// The systemd journal's native protocol: one datagram per entry, one field after another.
// A value without a newline travels as `NAME=value\n`; a value with one cannot (the newline
// would end it), so it travels as `NAME\n`, its byte length as 64-bit little-endian, the raw
// bytes, and `\n`. journald drops a field whose name it does not accept, so names are
// checked here, where a wrong one is a bug to report, not a field to lose silently.

export type JournalField = readonly [name: string, value: string];

/** journald's rule: A-Z, 0-9 and "_", at most 64, not starting with a digit or "_" (those are journald's own). */
const FIELD_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

export function isJournalFieldName(name: string): boolean {
  return FIELD_NAME.test(name);
}

const NEWLINE = 0x0a;

/** The datagram for one entry. Throws RangeError on an invalid field name. */
export function encodeEntry(fields: readonly JournalField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    if (!isJournalFieldName(name)) throw new RangeError(`invalid journal field name ${JSON.stringify(name)}`);
    const bytes = Buffer.from(value, "utf8");
    if (bytes.includes(NEWLINE)) {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(bytes.length));
      parts.push(Buffer.from(`${name}\n`), length, bytes, Buffer.from("\n"));
    } else {
      parts.push(Buffer.from(`${name}=`), bytes, Buffer.from("\n"));
    }
  }
  return Buffer.concat(parts);
}
