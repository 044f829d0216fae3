/**
 * A small DER reader: enough to take a PKCS#10 request or an X.509 certificate apart. Input is
 * hostile (a CSR comes from the network): every length is checked against the bytes there are,
 * lengths use the shortest form (DER), and nesting is bounded.
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** One TLV: `bytes` is the whole encoding, `content` what is inside. */
export interface Der {
  readonly tag: number;
  readonly bytes: Uint8Array;
  readonly content: Uint8Array;
}

/** Reads the TLV at `at`; `end` is where the next one starts. */
export function readDer(buf: Uint8Array, at = 0): Der & { readonly end: number } {
  const tag = buf[at];
  if (tag === undefined) throw new DerError("truncated: a tag is missing");
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  const first = buf[at + 1];
  if (first === undefined) throw new DerError("truncated: a length is missing");
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 3) throw new DerError(`length of ${n} bytes is not allowed`);
    length = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[at + 2 + i];
      if (b === undefined) throw new DerError("truncated length");
      length = length * 256 + b;
    }
    if (length < 0x80 || (n > 1 && buf[at + 2] === 0)) {
      throw new DerError("length not in its shortest form (not DER)");
    }
    header += n;
  }
  const end = at + header + length;
  if (end > buf.length) throw new DerError("truncated: a value runs past the end");
  return {
    tag,
    bytes: buf.subarray(at, end),
    content: buf.subarray(at + header, end),
    end,
  };
}

/** The one TLV that makes up all of `buf` (nothing may follow it). */
export function readWhole(buf: Uint8Array): Der {
  const d = readDer(buf);
  if (d.end !== buf.length) throw new DerError("bytes after the end of the structure");
  return d;
}

/** The TLVs inside a constructed value. */
export function children(d: Der): Der[] {
  if (!(d.tag & 0x20)) throw new DerError(`tag 0x${d.tag.toString(16)} is not constructed`);
  const out: Der[] = [];
  for (let at = 0; at < d.content.length;) {
    const c = readDer(d.content, at);
    out.push(c);
    at = c.end;
    if (out.length > 1000) throw new DerError("too many elements");
  }
  return out;
}

/** children() of a value that must have this tag. */
export function expect(d: Der | undefined, tag: number, what: string): Der {
  if (!d) throw new DerError(`${what} is missing`);
  if (d.tag !== tag) {
    throw new DerError(`${what}: tag 0x${d.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  }
  return d;
}

/** Dotted text of an OBJECT IDENTIFIER. */
export function oidText(d: Der): string {
  expect(d, 0x06, "object identifier");
  const c = d.content;
  if (c.length === 0 || c.length > 64) throw new DerError("bad object identifier length");
  const parts: number[] = [];
  let v = 0;
  for (const b of c) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const [head = 0, ...rest] = parts;
  const a = Math.min(2, Math.floor(head / 40));
  return [a, head - a * 40, ...rest].join(".");
}

/** Text of a directory string (UTF8String, PrintableString, IA5String). */
export function stringValue(d: Der): string {
  if (d.tag !== 0x0c && d.tag !== 0x13 && d.tag !== 0x16) {
    throw new DerError(`tag 0x${d.tag.toString(16)} is not a string type this reader takes`);
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(d.content);
}
