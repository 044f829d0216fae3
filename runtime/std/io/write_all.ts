/** Writes every byte of `data` to `w` (a socket or a file), however many writes it takes. */
export async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  for (let off = 0; off < data.length;) off += await w.write(data.subarray(off));
}
